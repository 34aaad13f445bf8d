# ruff: noqa: E501  (CSS and JavaScript text, kept one rule or statement per line)
"""The site's stylesheet and search script: fixed text, written as is by every build.

The script builds the result list with ``createElement``/``textContent`` only (never
``innerHTML``), so index strings in ``data.js`` stay text; it reads its data from the
``HXPM_SITE`` global that ``data.js`` assigns (a ``<script src>`` works from ``file://``,
where Chromium blocks ``fetch``).
"""

from __future__ import annotations

STYLE_CSS = """\
:root{--fg:#111;--muted:#444;--bg:#fff;--accent:#1a4d8f;--line:#c8ced6;--warn:#8a1c1c}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:64rem;margin:0 auto;padding:0 1rem}
header{border-bottom:1px solid var(--line);padding-top:.5rem}
header a{color:var(--fg);text-decoration:none}
a{color:var(--accent)}
a:focus,input:focus,select:focus{outline:3px solid #f0b400;outline-offset:2px}
h1{font-size:1.6rem;margin:.8rem 0 .3rem}h2{font-size:1.25rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line)}
.muted{color:var(--muted)}
.controls{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0;align-items:end}
.controls label{display:flex;flex-direction:column;font-weight:600;font-size:.9rem}
.controls input,.controls select{font:inherit;padding:.35rem .5rem;border:1px solid #767676;border-radius:4px;min-width:12rem}
.controls input{min-width:20rem}
ol.results{list-style:none;padding:0}
ol.results li{padding:.6rem 0;border-bottom:1px solid var(--line)}
ol.results .name{font-weight:700;font-size:1.05rem}
.tag{display:inline-block;font-size:.8rem;border:1px solid var(--line);border-radius:3px;padding:0 .35rem;margin:.15rem .25rem 0 0;color:var(--muted)}
.yanked{color:var(--warn);font-weight:600}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}
pre{background:#f4f5f7;padding:.6rem;overflow:auto;border-radius:4px}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em}
.readme{border:1px solid var(--line);border-radius:4px;padding:0 1rem;overflow-wrap:anywhere}
.note{border-left:4px solid #b58900;background:#fdf6e3;padding:.4rem .7rem}
.graph{max-width:100%;height:auto}
footer{border-top:1px solid var(--line);margin-top:2rem;padding:1rem;color:var(--muted);font-size:.9rem}
"""

SITE_JS = """\
"use strict";
(function () {
  var data = window.HXPM_SITE;
  var q = document.getElementById("q");
  var cap = document.getElementById("cap");
  var base = document.getElementById("base");
  var sort = document.getElementById("sort");
  var list = document.getElementById("results");
  var count = document.getElementById("count");
  var LIMIT = 200;
  if (!data || !q) { return; }
  data.experts.forEach(function (e) { e.t = e.d.toLowerCase(); });
  function option(select, value, label) {
    var o = document.createElement("option");
    o.value = value; o.textContent = label; select.appendChild(o);
  }
  data.capabilities.forEach(function (c) { option(cap, c[0], c[0] + " (" + c[1] + ")"); });
  data.bases.forEach(function (b) { option(base, b[0], b[0] + " (" + b[1] + ")"); });
  function score(e, words) {
    var total = 0;
    for (var i = 0; i < words.length; i++) {
      var w = words[i], s = 0;
      if (e.n === w || e.n === "expert-" + w) { s = 100; }
      else if (e.n.indexOf(w) === 0 || e.n.indexOf("expert-" + w) === 0) { s = 50; }
      else if (e.n.indexOf(w) >= 0) { s = 30; }
      else if (e.k.indexOf(w) >= 0 || e.c.indexOf(w) >= 0) { s = 20; }
      else if (e.t.indexOf(w) >= 0) { s = 5; }
      if (!s) { return 0; }
      total += s;
    }
    return total || 1;
  }
  function tag(parent, text) {
    var span = document.createElement("span");
    span.className = "tag"; span.textContent = text; parent.appendChild(span);
  }
  function row(e) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.className = "name"; a.href = "experts/" + e.n + ".html"; a.textContent = e.n;
    li.appendChild(a);
    li.appendChild(document.createTextNode(" " + e.v + " "));
    if (e.y) { var y = document.createElement("span"); y.className = "yanked"; y.textContent = "yanked"; li.appendChild(y); }
    var p = document.createElement("div"); p.textContent = e.d; li.appendChild(p);
    var tags = document.createElement("div");
    e.c.forEach(function (c) { tag(tags, c); });
    e.b.forEach(function (b) { tag(tags, "base: " + b); });
    tag(tags, "published " + e.p);
    li.appendChild(tags);
    return li;
  }
  function render() {
    var words = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var hits = [];
    data.experts.forEach(function (e) {
      if (cap.value && e.c.indexOf(cap.value) < 0) { return; }
      if (base.value && e.b.indexOf(base.value) < 0) { return; }
      var s = words.length ? score(e, words) : 1;
      if (s) { hits.push([s, e]); }
    });
    var by = sort.value;
    hits.sort(function (a, b) {
      if (by === "relevance" && a[0] !== b[0]) { return b[0] - a[0]; }
      if (by === "newest" && a[1].p !== b[1].p) { return a[1].p < b[1].p ? 1 : -1; }
      if (by === "versions" && a[1].m !== b[1].m) { return b[1].m - a[1].m; }
      return a[1].n < b[1].n ? -1 : (a[1].n > b[1].n ? 1 : 0);
    });
    while (list.firstChild) { list.removeChild(list.firstChild); }
    var frag = document.createDocumentFragment();
    hits.slice(0, LIMIT).forEach(function (h) { frag.appendChild(row(h[1])); });
    list.appendChild(frag);
    count.textContent = hits.length + (hits.length === 1 ? " expert" : " experts") +
      (hits.length > LIMIT ? " (first " + LIMIT + " shown; refine the search)" : "");
  }
  function fromHash() {
    var h = decodeURIComponent(location.hash.slice(1));
    if (h.indexOf("cap=") === 0) { cap.value = h.slice(4); }
    else if (h.indexOf("q=") === 0) { q.value = h.slice(2); }
  }
  [q, cap, base, sort].forEach(function (el) { el.addEventListener("input", render); });
  document.getElementById("search").addEventListener("submit", function (ev) { ev.preventDefault(); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && document.activeElement !== q) { ev.preventDefault(); q.focus(); }
  });
  window.addEventListener("hashchange", function () { fromHash(); render(); });
  fromHash();
  render();
})();
"""
