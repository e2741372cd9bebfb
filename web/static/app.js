// refarch UI behaviour on top of htmx: focus after edits, history and
// titles that follow the search, screen reader announcements, Undo, and
// small conveniences. Everything here is an enhancement: the pages work
// without it.
(function () {
  "use strict";
  var narrow = window.matchMedia("(max-width: 700px)");

  function announce(text) {
    var a = document.getElementById("announcer");
    if (!a) return;
    a.textContent = "";
    setTimeout(function () { a.textContent = text; }, 50);
  }

  function rowName(id) {
    var n = document.querySelector("#row-" + id + " .pname");
    return n ? n.textContent : "Product " + id;
  }

  // Descriptions are clamped to two lines; "Show more" appears only where
  // the text is longer than that.
  function clampDescriptions(root) {
    root.querySelectorAll("td.name").forEach(function (td) {
      var d = td.querySelector(".desc"), b = td.querySelector("button.more");
      if (!d || !b) return;
      b.hidden = !(d.scrollHeight > d.clientHeight + 2 || td.classList.contains("expanded"));
    });
  }

  // The filters fold on phones unless one is in use.
  function foldFilters() {
    var f = document.querySelector("details.filters");
    if (f && narrow.matches && !f.hasAttribute("data-active")) f.open = false;
  }

  // Field errors of the filters arrive with the table; mark the fields.
  function markInvalid() {
    var r = document.getElementById("results");
    if (!r) return;
    var bad = (r.getAttribute("data-invalid") || "").split(" ");
    ["min_price", "max_price"].forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      if (bad.indexOf(id) >= 0) el.setAttribute("aria-invalid", "true");
      else el.removeAttribute("aria-invalid");
    });
    if (r.dataset.title) document.title = r.dataset.title;
  }

  function toggleNewCategory() {
    var sel = document.getElementById("new-category");
    var box = document.querySelector(".new-category-name");
    if (sel && box) box.hidden = sel.value !== "__new";
  }

  var pendingRow = null, badgeStates = {};

  document.addEventListener("DOMContentLoaded", function () {
    foldFilters();
    markInvalid();
    clampDescriptions(document);
    toggleNewCategory();
  });

  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "new-category") toggleNewCategory();
  });

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button.more");
    if (!b) return;
    var td = b.closest("td");
    var open = td.classList.toggle("expanded");
    b.setAttribute("aria-expanded", open ? "true" : "false");
    b.textContent = open ? "Show less" : "Show more";
  });

  // "/" jumps to the search box from anywhere but a field.
  document.addEventListener("keydown", function (e) {
    var t = e.target.tagName;
    if (e.key === "/" && t !== "INPUT" && t !== "TEXTAREA" && t !== "SELECT") {
      var q = document.getElementById("q");
      if (q) { e.preventDefault(); q.focus(); q.select(); }
    }
  });

  document.addEventListener("htmx:beforeSwap", function (e) {
    // Only a row's own swap moves focus; the badge poller's swaps, which
    // can land in between, leave it alone.
    var t = e.detail.target;
    if (t && t.tagName === "TR" && t.id) {
      var next = t.nextElementSibling, prev = t.previousElementSibling;
      pendingRow = { id: t.id, old: t, next: next && next.id, prev: prev && prev.id };
    }
    document.querySelectorAll(".badge").forEach(function (b) {
      badgeStates[b.id] = b.className;
    });
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    markInvalid();
    clampDescriptions(document);
    toggleNewCategory();
    // Screen readers hear a badge that changed.
    document.querySelectorAll(".badge").forEach(function (b) {
      var before = badgeStates[b.id];
      if (before && before !== b.className && b.classList.contains("badge-indexed")) {
        announce("“" + rowName(b.id.replace("badge-", "")) + "” is indexed and searchable.");
      } else if (before && before !== b.className && b.classList.contains("badge-failed")) {
        announce("Indexing “" + rowName(b.id.replace("badge-", "")) + "” failed.");
      }
    });
    if (!pendingRow) return;
    var p = pendingRow;
    var row = document.getElementById(p.id);
    if (row === p.old) return; // not this row's swap
    pendingRow = null;
    var focusEl = null;
    if (row && row.classList.contains("editing")) {
      // A rejected save: the first invalid field; a fresh edit: Name.
      focusEl = row.querySelector("[aria-invalid=true]") || row.querySelector("input[autofocus]") || row.querySelector("input:not([type=hidden])");
    } else if (row && row.dataset.deleted) {
      // After a delete, the row after it (or before it); Undo stays a
      // Shift+Tab away.
      var other = document.getElementById(p.next) || document.getElementById(p.prev);
      focusEl = (other && other.querySelector("button.edit")) || row.querySelector("button");
      announce(row.textContent.trim().replace(/\s+/g, " ").replace(/Undo$/, "") + " Undo is available for a few seconds.");
      setTimeout(function () {
        var r = document.getElementById(p.id);
        if (r && r.dataset.deleted) r.remove();
      }, 10000);
    } else if (row) {
      // Saved or cancelled: back to the row's Edit button.
      focusEl = row.querySelector("button.edit");
    } else {
      var o = document.getElementById(p.next) || document.getElementById(p.prev);
      focusEl = (o && o.querySelector("button.edit")) || document.getElementById("q");
    }
    if (focusEl) focusEl.focus();
  });

  // Delete and Undo keep the browse count honest.
  function adjustTotal(delta) {
    var t = document.querySelector("#results [data-total]");
    if (!t) return;
    var n = parseInt(t.getAttribute("data-total"), 10) + delta;
    t.setAttribute("data-total", String(n));
    t.textContent = t.textContent.replace(/^[\d,]+ products?/, n.toLocaleString("en-US") + (n === 1 ? " product" : " products"));
  }
  document.addEventListener("product-deleted", function () { adjustTotal(-1); });
  document.addEventListener("product-restored", function () { adjustTotal(1); announce("Restored."); });
})();
