/**
 * The dashboard's pages as strings (docs/collector.md "Dashboard"): two HTML shells, one script
 * and one stylesheet served from the listener itself, so the Content-Security-Policy can forbid
 * everything else (no inline script, no external resource). The script renders the JSON API with
 * `textContent` and `createElementNS` only: vendor and model names come from the feed, which is
 * signed but still text, and never reach an HTML parser.
 * @module
 */

/**
 * The pages' Content-Security-Policy (CSP Level 3, W3C): scripts, styles and fetches from this
 * listener only; no inline script, no plugin, no framing, no form, no base rewrite.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths of the dashboard's static parts. */
export const DASHBOARD_ASSETS = {
  script: '/dashboard/app.js',
  styles: '/dashboard/app.css',
  icon: '/dashboard/icon.svg',
} as const;

function shell(options: { page: 'summary' | 'vendors'; title: string; main: string }): string {
  const current = (page: string): string => (page === options.page ? ' aria-current="page"' : '');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${options.title}</title>
<link rel="icon" href="${DASHBOARD_ASSETS.icon}" type="image/svg+xml">
<link rel="stylesheet" href="${DASHBOARD_ASSETS.styles}">
<script src="${DASHBOARD_ASSETS.script}" defer></script>
</head>
<body data-page="${options.page}">
<header class="top">
<div class="brand"><span class="logo" aria-hidden="true"></span><h1>Tattler collector</h1></div>
<nav aria-label="Dashboard pages"><a href="/dashboard"${current('summary')}>Overview</a><a href="/dashboard/vendors"${current('vendors')}>Vendor report</a></nav>
<p id="status" class="status" role="status" aria-live="polite">Loading…</p>
</header>
<main>
${options.main}
</main>
<footer><p>Read-only. Shows only the aggregate counters the collector keeps (docs/privacy.md): no address, no device. The numbers are those of <a href="/metrics">/metrics</a>.</p></footer>
<noscript><p class="error">This dashboard needs JavaScript; the same numbers are at /metrics.</p></noscript>
</body>
</html>
`;
}

/** `GET /dashboard`: the overview. */
export const DASHBOARD_PAGE_HTML = shell({
  page: 'summary',
  title: 'Tattler collector — dashboard',
  main: `<section aria-labelledby="totals-title">
<h2 id="totals-title" class="visually-hidden">Totals since start</h2>
<div id="cards" class="cards"></div>
</section>
<div class="grid">
<section class="panel" aria-labelledby="feed-title">
<h2 id="feed-title">Feed and certificate</h2>
<dl id="feed" class="facts"></dl>
</section>
<section class="panel" aria-labelledby="answers-title">
<h2 id="answers-title">Answers by kind</h2>
<table><caption class="visually-hidden">Answers sent, by kind</caption><thead><tr><th scope="col">Kind</th><th scope="col" class="num">Answers</th></tr></thead><tbody id="answers"></tbody></table>
</section>
</div>
<section class="panel" aria-labelledby="chart-title">
<h2 id="chart-title">Announcements and verdicts over time</h2>
<figure class="chart">
<svg id="chart" viewBox="0 0 900 280" role="img" aria-labelledby="chart-desc"><desc id="chart-desc">Announcements and verdicts per interval</desc></svg>
<figcaption><ul id="legend" class="legend"></ul></figcaption>
</figure>
</section>
<section class="panel" aria-labelledby="identified-title">
<h2 id="identified-title">Identified announcements by vendor and model</h2>
<table><caption>Models the feed does not list are counted as (unlisted).</caption><thead><tr><th scope="col">Vendor</th><th scope="col">Model</th><th scope="col" class="num">FAIL</th><th scope="col" class="num">WARN</th><th scope="col" class="num">PASS</th><th scope="col" class="num">UNKNOWN</th><th scope="col" class="num">Total</th></tr></thead><tbody id="identified"></tbody></table>
</section>
<div class="grid">
<section class="panel" aria-labelledby="private-title">
<h2 id="private-title">Private announcements by bucket</h2>
<table><caption>private mode: the collector never learns the model</caption><thead><tr><th scope="col">Bucket</th><th scope="col" class="num">Announcements</th></tr></thead><tbody id="private"></tbody></table>
</section>
<section class="panel" aria-labelledby="drops-title">
<h2 id="drops-title">Drops by reason</h2>
<table><caption class="visually-hidden">Datagrams not answered, by reason code</caption><thead><tr><th scope="col">Reason</th><th scope="col" class="num">Datagrams</th></tr></thead><tbody id="drops"></tbody></table>
<h2 id="rate-title">Rate-limited requests</h2>
<table aria-labelledby="rate-title"><thead><tr><th scope="col">Action</th><th scope="col" class="num">Requests</th></tr></thead><tbody id="rate"></tbody></table>
</section>
</div>`,
});

/** `GET /dashboard/vendors`: the vendor report of the counts since the collector started. */
export const VENDORS_PAGE_HTML = shell({
  page: 'vendors',
  title: 'Tattler collector — vendor report',
  main: `<section class="panel" aria-labelledby="vendors-title">
<h2 id="vendors-title">Vendor report</h2>
<p id="report-meta" class="meta"></p>
<p class="note">“Seen vulnerable”: identified announcements answered FAIL or WARN (a listed advisory matched the device's version). Days since advisory need the feed's import store: use <code>tattler report vendors --feed-db</code>.</p>
<table><caption class="visually-hidden">Per vendor and model, since the collector started</caption><thead><tr><th scope="col">Vendor</th><th scope="col">Model</th><th scope="col" class="num">Announcements</th><th scope="col" class="num">Seen vulnerable</th><th scope="col">Advisories</th><th scope="col">KEV</th><th scope="col" class="num">CVSS</th><th scope="col">Fixed version available</th><th scope="col" class="num">Days since advisory</th></tr></thead><tbody id="vendors"></tbody></table>
<p id="vendors-more" class="meta"></p>
<p class="meta">Identified announcements of models the feed does not list: <strong data-metric="vendors.unlisted" id="unlisted">–</strong></p>
</section>
<section class="panel" aria-labelledby="vendor-private-title">
<h2 id="vendor-private-title">Private mode (the collector never learns the model)</h2>
<table><caption class="visually-hidden">Private announcements by bucket</caption><thead><tr><th scope="col">Bucket</th><th scope="col" class="num">Announcements</th></tr></thead><tbody id="vendor-private"></tbody></table>
</section>`,
});

/** `GET /dashboard/icon.svg`. */
export const DASHBOARD_ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f4e79"/><path d="M4 11l3-6 2 4 1-2 2 4" stroke="#fff" stroke-width="1.5" fill="none"/></svg>\n`;

/** `GET /dashboard/app.css`. */
export const DASHBOARD_CSS = `:root{--bg:#f4f6f9;--panel:#fff;--ink:#1b2430;--muted:#5d6b7e;--line:#dfe4ea;--accent:#1f4e79;
--fail:#c62828;--warn:#ef8f00;--pass:#2e7d32;--unknown:#78909c;--ann:#1f4e79;--drops:#8e24aa}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:12px 24px;padding:12px 24px;background:var(--accent);color:#fff}
.brand{display:flex;align-items:center;gap:10px}
.logo{width:22px;height:22px;border-radius:5px;background:#fff url(/dashboard/icon.svg) center/cover}
h1{font-size:18px;margin:0;font-weight:600}
nav a{color:#dbe8f5;text-decoration:none;margin-right:16px;padding:4px 0;border-bottom:2px solid transparent}
nav a[aria-current=page]{color:#fff;border-bottom-color:#fff}
.status{margin:0 0 0 auto;font-size:13px;color:#dbe8f5}
.status.error{color:#ffd5d5;font-weight:600}
main{max-width:1240px;margin:0 auto;padding:20px 24px}
footer{max-width:1240px;margin:0 auto;padding:0 24px 24px;color:var(--muted);font-size:12px}
footer a{color:inherit}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:12px;margin-bottom:16px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.card .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
.card.fail .value{color:var(--fail)}.card.warn .value{color:var(--warn)}.card.pass .value{color:var(--pass)}.card.unknown .value{color:var(--unknown)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin-bottom:16px}
h2{font-size:15px;margin:0 0 10px}
.panel h2+table,.panel table+h2{margin-top:0}
.panel table+h2{margin-top:16px}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
caption{caption-side:bottom;text-align:left;color:var(--muted);font-size:12px;padding-top:6px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:12px;color:var(--muted);font-weight:600}
tbody th{font-weight:500}
tbody tr:nth-child(even){background:#fafbfc}
.num{text-align:right}
td.zero{color:#b0b9c4}
td.empty{color:var(--muted);font-style:italic}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:6px 16px;margin:0}
.facts dt{color:var(--muted)}
.facts dd{margin:0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;background:#e8f5e9;color:var(--pass)}
.badge.expiring,.badge.degraded{background:#fff3e0;color:#a65c00}
.badge.expired{background:#ffebee;color:var(--fail)}
.kev{color:var(--fail);font-weight:600}
.chart{margin:0}
.chart svg{width:100%;height:auto;display:block}
.chart .axis{stroke:#9aa6b2;stroke-width:1}
.chart .grid-line{stroke:var(--line);stroke-width:1}
.chart text{fill:var(--muted);font-size:11px}
.chart .series{fill:none;stroke-width:2;stroke-linejoin:round}
.chart .dot{stroke:none}
.s-ann{stroke:var(--ann);fill:var(--ann)}.s-fail{stroke:var(--fail);fill:var(--fail)}.s-warn{stroke:var(--warn);fill:var(--warn)}
.s-pass{stroke:var(--pass);fill:var(--pass)}.s-unknown{stroke:var(--unknown);fill:var(--unknown)}
.chart .series.s-ann,.chart .series.s-fail,.chart .series.s-warn,.chart .series.s-pass,.chart .series.s-unknown{fill:none}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 18px;padding:0;margin:8px 0 0;color:var(--muted);font-size:12px}
.swatch{display:inline-block;width:12px;height:3px;margin-right:6px;vertical-align:middle}
.swatch.s-ann{background:var(--ann)}.swatch.s-fail{background:var(--fail)}.swatch.s-warn{background:var(--warn)}.swatch.s-pass{background:var(--pass)}.swatch.s-unknown{background:var(--unknown)}
.meta,.note{color:var(--muted);font-size:13px;margin:0 0 10px}
.error{color:var(--fail)}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

/**
 * `GET /dashboard/app.js`: fetches the JSON API and renders it; polls the summary every 5 s.
 * Written as plain ES2020 for the browser; it builds every node with createElement and
 * textContent, never innerHTML.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var POLL_MS = 5000;
  var SVG = 'http://www.w3.org/2000/svg';
  var STATUSES = ['fail', 'warn', 'pass', 'unknown'];
  var SERIES = [
    { key: 'ann', label: 'Announcements (identified + private)', value: function (p) { return p.identified + p.private; } },
    { key: 'fail', label: 'FAIL', value: function (p) { return p.fail; } },
    { key: 'warn', label: 'WARN', value: function (p) { return p.warn; } },
    { key: 'pass', label: 'PASS', value: function (p) { return p.pass; } },
    { key: 'unknown', label: 'UNKNOWN', value: function (p) { return p.unknown; } }
  ];

  function $(id) { return document.getElementById(id); }
  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) for (var k in props) {
      if (k === 'text') node.textContent = String(props[k]);
      else node.setAttribute(k, String(props[k]));
    }
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    for (var k in attrs) node.setAttribute(k, String(attrs[k]));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function fmt(n) { return Number(n).toLocaleString('en-US'); }
  function numberCell(metric, n) {
    var td = el('td', { 'class': n === 0 ? 'num zero' : 'num', 'data-metric': metric, text: fmt(n) });
    return td;
  }
  function emptyRow(columns, text) {
    return el('tr', null, [el('td', { colspan: columns, 'class': 'empty', text: text })]);
  }
  function human(seconds) {
    var s = Math.abs(Math.round(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + ' d ' + h + ' h';
    if (h > 0) return h + ' h ' + m + ' min';
    if (m > 0) return m + ' min ' + (s % 60) + ' s';
    return s + ' s';
  }
  function expiry(seconds) { return seconds > 0 ? 'expires in ' + human(seconds) : 'expired ' + human(seconds) + ' ago'; }
  function date(seconds) { return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'); }
  function time(seconds) { return new Date(seconds * 1000).toTimeString().slice(0, 8); }
  function setStatus(text, isError) {
    var status = $('status');
    status.textContent = text;
    status.className = isError ? 'status error' : 'status';
  }
  function getJson(path) {
    return fetch(path, { cache: 'no-store', credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
      return response.json();
    });
  }

  // ---- overview ----
  function renderCards(s) {
    var cards = [
      ['Datagrams', 'totals.datagrams', s.totals.datagrams, ''],
      ['Identified', 'totals.identified', s.totals.identified, ''],
      ['Private', 'totals.private', s.totals.private, ''],
      ['FAIL', 'verdicts.fail', s.totals.verdicts.fail, 'fail'],
      ['WARN', 'verdicts.warn', s.totals.verdicts.warn, 'warn'],
      ['PASS', 'verdicts.pass', s.totals.verdicts.pass, 'pass'],
      ['UNKNOWN', 'verdicts.unknown', s.totals.verdicts.unknown, 'unknown'],
      ['Drops', 'drops.total', s.totals.drops, ''],
      ['Workers', 'workers', s.workers, '']
    ];
    $('cards').replaceChildren.apply($('cards'), cards.map(function (c) {
      return el('div', { 'class': 'card ' + c[3] }, [
        el('div', { 'class': 'label', text: c[0] }),
        el('div', { 'class': 'value', 'data-metric': c[1], text: fmt(c[2]) })
      ]);
    }));
  }
  function fact(list, term, node) { list.push(el('dt', { text: term }), el('dd', null, [node])); }
  function renderFeed(s) {
    var items = [];
    var health = el('span', { 'class': 'badge ' + s.health.status, 'data-metric': 'health.status', text: s.health.status });
    var healthNode = el('span', null, [health]);
    if (s.health.problems.length > 0) healthNode.appendChild(document.createTextNode(' ' + s.health.problems.join(', ')));
    fact(items, 'Health', healthNode);
    if (s.feed === null) fact(items, 'Feed', el('span', { 'class': 'error', text: 'no feed' }));
    else {
      fact(items, 'Feed version', el('span', { 'data-metric': 'feed.version', text: String(s.feed.version) }));
      fact(items, 'Issued', el('span', { text: date(s.feed.issuedAt) + ' (' + human(s.feed.ageSeconds) + ' ago)' }));
      var left = s.feed.expiresAt - s.nowSeconds;
      fact(items, 'Feed expiry', el('span', { 'data-metric': 'feed.expiresIn', 'class': left > 0 ? '' : 'error', text: expiry(left) + ' (' + date(s.feed.expiresAt) + ')' }));
    }
    if (s.certificate === null) fact(items, 'Certificate', el('span', { text: 'unknown' }));
    else {
      var cert = el('span', null, [
        el('span', { 'class': 'badge ' + s.certificate.status, 'data-metric': 'certificate.status', text: s.certificate.status }),
        document.createTextNode(' ' + expiry(s.certificate.expiresInSeconds) + ' (' + date(s.certificate.notAfter) + ')')
      ]);
      fact(items, 'Certificate', cert);
    }
    fact(items, 'Up since', el('span', { text: date(s.startedAt) + ' (' + human(s.nowSeconds - s.startedAt) + ')' }));
    $('feed').replaceChildren.apply($('feed'), items);
  }
  function renderAnswers(s) {
    var kinds = Object.keys(s.totals.answers);
    var rows = kinds.map(function (kind) {
      return el('tr', null, [el('th', { scope: 'row', text: kind }), numberCell('answers.' + kind, s.totals.answers[kind])]);
    });
    if (rows.length === 0) rows = [emptyRow(2, 'no answers yet')];
    $('answers').replaceChildren.apply($('answers'), rows);
  }
  function renderIdentified(s) {
    var models = new Map();
    s.identified.forEach(function (c) {
      var key = c.vendor + '\u0000' + c.model;
      var row = models.get(key);
      if (!row) { row = { vendor: c.vendor, model: c.model, fail: 0, warn: 0, pass: 0, unknown: 0 }; models.set(key, row); }
      row[c.status] += c.count;
    });
    var list = Array.from(models.values()).sort(function (a, b) {
      return (b.fail + b.warn) - (a.fail + a.warn) || (b.fail + b.warn + b.pass + b.unknown) - (a.fail + a.warn + a.pass + a.unknown) ||
        (a.vendor < b.vendor ? -1 : a.vendor > b.vendor ? 1 : a.model < b.model ? -1 : a.model > b.model ? 1 : 0);
    });
    var rows = list.map(function (r) {
      var base = 'identified.' + r.vendor + '.' + r.model + '.';
      var cells = [el('th', { scope: 'row', text: r.vendor }), el('td', { text: r.model })];
      STATUSES.forEach(function (status) { cells.push(numberCell(base + status, r[status])); });
      cells.push(numberCell(base + 'total', r.fail + r.warn + r.pass + r.unknown));
      return el('tr', null, cells);
    });
    if (rows.length === 0) rows = [emptyRow(7, 'no identified announcements yet')];
    $('identified').replaceChildren.apply($('identified'), rows);
  }
  function renderPrivate(s) {
    var rows = s.private.map(function (b) {
      return el('tr', null, [el('th', { scope: 'row', text: b.bucket }), numberCell('private.' + b.bucket, b.count)]);
    });
    if (rows.length === 0) rows = [emptyRow(2, 'no private announcements yet')];
    $('private').replaceChildren.apply($('private'), rows);
  }
  function renderDrops(s) {
    var rows = s.drops.map(function (d) {
      return el('tr', null, [el('th', { scope: 'row', text: d.reason }), numberCell('drops.' + d.reason, d.count)]);
    });
    if (rows.length === 0) rows = [emptyRow(2, 'no drops')];
    $('drops').replaceChildren.apply($('drops'), rows);
    $('rate').replaceChildren(
      el('tr', null, [el('th', { scope: 'row', text: 'dropped' }), numberCell('rateLimited.drop', s.rateLimited.drop)]),
      el('tr', null, [el('th', { scope: 'row', text: 'answered with a back-off (slip)' }), numberCell('rateLimited.slip', s.rateLimited.slip)])
    );
  }
  function niceMax(n) {
    if (n <= 4) return 4;
    var power = Math.pow(10, Math.floor(Math.log10(n)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= n) return steps[i] * power;
    return 10 * power;
  }
  function renderChart(s) {
    var chart = $('chart');
    var W = 900, H = 280, left = 52, right = 16, top = 14, bottom = 30;
    var points = s.history;
    var nodes = [svg('desc', { id: 'chart-desc' }, 'Announcements and verdicts per interval, ' + Math.max(0, points.length - 1) + ' intervals')];
    var deltas = SERIES.map(function (series) {
      var out = [];
      for (var i = 1; i < points.length; i++) out.push({ t: points[i].t, v: Math.max(0, series.value(points[i]) - series.value(points[i - 1])) });
      return out;
    });
    var max = 0;
    deltas.forEach(function (d) { d.forEach(function (p) { if (p.v > max) max = p.v; }); });
    var yMax = niceMax(max);
    var t0 = points.length > 0 ? points[0].t : s.nowSeconds;
    var t1 = points.length > 0 ? points[points.length - 1].t : s.nowSeconds;
    if (t1 <= t0) t1 = t0 + 1;
    function x(t) { return left + (W - left - right) * (t - t0) / (t1 - t0); }
    function y(v) { return top + (H - top - bottom) * (1 - v / yMax); }
    for (var k = 0; k <= 4; k++) {
      var v = yMax * k / 4;
      nodes.push(svg('line', { 'class': 'grid-line', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
      nodes.push(svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(Math.round(v * 100) / 100)));
    }
    for (var j = 0; j <= 4; j++) {
      var t = t0 + (t1 - t0) * j / 4;
      nodes.push(svg('text', { x: x(t), y: H - 10, 'text-anchor': j === 0 ? 'start' : j === 4 ? 'end' : 'middle' }, time(t)));
    }
    nodes.push(svg('line', { 'class': 'axis', x1: left, x2: left, y1: top, y2: H - bottom }));
    nodes.push(svg('line', { 'class': 'axis', x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
    nodes.push(svg('text', { x: 12, y: top + (H - top - bottom) / 2, 'text-anchor': 'middle', transform: 'rotate(-90 12 ' + (top + (H - top - bottom) / 2) + ')' }, 'per interval'));
    if (points.length < 2) {
      nodes.push(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'Waiting for the next sample…'));
    }
    SERIES.forEach(function (series, i) {
      var d = deltas[i];
      if (d.length === 0) return;
      var path = d.map(function (p, n) { return (n === 0 ? 'M' : 'L') + x(p.t).toFixed(1) + ' ' + y(p.v).toFixed(1); }).join(' ');
      var group = svg('g', { 'data-series': series.key });
      group.appendChild(svg('path', { 'class': 'series s-' + series.key, d: path, 'data-series': series.key }));
      if (d.length <= 120) d.forEach(function (p) {
        var dot = svg('circle', { 'class': 'dot s-' + series.key, cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5 });
        dot.appendChild(svg('title', {}, series.label + ' ' + time(p.t) + ': ' + fmt(p.v)));
        group.appendChild(dot);
      });
      nodes.push(group);
    });
    chart.replaceChildren.apply(chart, nodes);
    if ($('legend').childElementCount === 0) {
      $('legend').replaceChildren.apply($('legend'), SERIES.map(function (series) {
        return el('li', null, [el('span', { 'class': 'swatch s-' + series.key, 'aria-hidden': 'true' }), document.createTextNode(series.label)]);
      }));
    }
  }
  function renderSummary(s) {
    renderCards(s);
    renderFeed(s);
    renderAnswers(s);
    renderChart(s);
    renderIdentified(s);
    renderPrivate(s);
    renderDrops(s);
    document.body.setAttribute('data-rendered-at', String(s.nowSeconds));
  }

  // ---- vendor report ----
  var MAX_VENDOR_ROWS = 1000;
  function renderVendors(r) {
    var span = r.window;
    $('report-meta').textContent = 'Counts since the collector started (' +
      (span.fromSeconds === null ? 'the first count' : date(span.fromSeconds)) + ' to ' +
      (span.toSeconds === null ? 'now' : date(span.toSeconds)) + '), feed version ' +
      (r.feedVersion === null ? 'none' : r.feedVersion) + '.';
    var rows = r.rows.slice(0, MAX_VENDOR_ROWS).map(function (row) {
      var base = 'vendors.' + row.vendor + '.' + row.model + '.';
      var a = row.announcements;
      var total = a.pass + a.fail + a.warn + a.unknown;
      var shown = row.advisories.slice(0, 4).join(', ') + (row.advisories.length > 4 ? ', +' + (row.advisories.length - 4) + ' more' : '');
      var advisories = el('td', { 'data-metric': base + 'advisories', title: row.advisories.join(', '), text: shown || '—' });
      return el('tr', null, [
        el('th', { scope: 'row', text: row.vendor }),
        el('td', { text: row.model }),
        numberCell(base + 'announcements', total),
        numberCell(base + 'vulnerable', row.vulnerable),
        advisories,
        el('td', { 'class': row.kev ? 'kev' : '', 'data-metric': base + 'kev', text: row.kev ? 'yes' : 'no' }),
        el('td', { 'class': 'num', 'data-metric': base + 'cvss', text: row.cvss === null ? '—' : row.cvss.toFixed(1) }),
        el('td', { 'data-metric': base + 'fixed', text: row.fixedVersions.length > 0 ? 'yes (' + row.fixedVersions.join(', ') + ')' : 'no' }),
        el('td', { 'class': 'num', 'data-metric': base + 'days', text: row.daysSinceAdvisory === null ? '—' : fmt(row.daysSinceAdvisory) })
      ]);
    });
    if (rows.length === 0) rows = [emptyRow(9, 'no models announced and none in the feed')];
    $('vendors').replaceChildren.apply($('vendors'), rows);
    $('vendors-more').textContent = r.rows.length > MAX_VENDOR_ROWS
      ? 'Showing the ' + fmt(MAX_VENDOR_ROWS) + ' most vulnerable of ' + fmt(r.rows.length) + ' models; tattler report vendors lists them all.' : '';
    $('unlisted').textContent = fmt(r.unlisted);
    var buckets = r.private.map(function (b) {
      return el('tr', null, [el('th', { scope: 'row', text: b.bucket }), numberCell('vendors.private.' + b.bucket, b.count)]);
    });
    if (buckets.length === 0) buckets = [emptyRow(2, 'no private announcements yet')];
    $('vendor-private').replaceChildren.apply($('vendor-private'), buckets);
    document.body.setAttribute('data-rendered-at', String(r.generatedAt));
  }

  var page = document.body.getAttribute('data-page');
  var path = page === 'vendors' ? '/dashboard/api/vendors' : '/dashboard/api/summary';
  var render = page === 'vendors' ? renderVendors : renderSummary;
  var every = page === 'vendors' ? 6 * POLL_MS : POLL_MS;
  function poll() {
    getJson(path).then(function (data) {
      render(data);
      setStatus('Updated ' + new Date().toTimeString().slice(0, 8) + ' · refreshes every ' + every / 1000 + ' s', false);
    }, function (err) {
      setStatus('Cannot update: ' + err.message + ' (retrying)', true);
    }).finally(function () { setTimeout(poll, every); });
  }
  poll();
})();
`;
