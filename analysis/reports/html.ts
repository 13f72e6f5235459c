/**
 * The page shell: one self-contained HTML file with the libraries inlined, a Content Security
 * Policy that allows no network access at all (so "opens offline" is enforced, not hoped for), the
 * compiled charts as a JSON block, and a small runner that embeds them and records in
 * `window.reportStatus` what rendered (the browser test and `--screenshot` read it).
 */
import { inlineLibraries } from './assets.js';
import type { Chart } from './charts/chart.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

// Vega compiles its expressions with `new Function`, hence 'unsafe-eval'; everything else is inline.
const CSP =
  "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; font-src data:";

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0 auto; max-width: 1000px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; margin: 32px 0 6px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
section { padding: 2px 12px; margin: 0 -12px; } /* a section's screenshot keeps a left margin */
.meta { color: #555; font-size: 13px; } .meta b { color: #222; font-weight: 600; }
nav a { margin-right: 14px; } p.how { color: #444; font-size: 13px; margin: 4px 0 10px; }
.notice { background: #fff8e1; border: 1px solid #f0d98a; padding: 8px 12px; border-radius: 4px; margin: 8px 0; }
.chart { margin: 8px 0 16px; min-height: 40px; } .chart.failed { color: #b00; }
table { border-collapse: collapse; font-size: 12px; margin: 6px 0 14px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #f5f5f5; white-space: normal; vertical-align: bottom; } /* long headers with units wrap */ td.l, th.l { text-align: left; } code, td.id { font-family: ui-monospace, monospace; font-size: 11.5px; }
footer { color: #777; font-size: 12px; margin-top: 40px; }
`;

/** Embeds every chart, then fills `window.reportStatus` ({done, charts: [{id, rows, items}], errors}). */
const RUNNER = `(function () {
  var status = { done: false, charts: [], errors: [] };
  window.reportStatus = status;
  // The Vega views by chart id, for the layout check (layout-check.ts) to walk their scenegraphs.
  window.reportViews = {};
  var charts = JSON.parse(document.getElementById('report-charts').textContent);
  function items(node) {
    var n = 0;
    if (!node) return 0;
    if (node.marktype && node.marktype !== 'group' && node.role === 'mark' && node.items) n += node.items.length;
    if (node.items) for (var i = 0; i < node.items.length; i++) n += items(node.items[i]);
    return n;
  }
  Promise.all(charts.map(function (c) {
    return vegaEmbed('#' + c.id, c.vega, { mode: 'vega', renderer: 'svg', actions: false }).then(function (res) {
      window.reportViews[c.id] = res.view;
      var rows = {};
      c.required.forEach(function (name) { rows[name] = res.view.data(name).length; });
      status.charts.push({ id: c.id, rows: rows, items: items(res.view.scenegraph().root) });
    }, function (err) {
      status.errors.push(c.id + ': ' + (err && err.message ? err.message : String(err)));
      var el = document.getElementById(c.id);
      el.className += ' failed';
      el.textContent = 'This chart failed to render: ' + err;
    });
  })).then(function () { status.done = true; });
})();`;

export interface PageParts {
  title: string;
  /** Header lines (already HTML). */
  meta: string;
  nav: { id: string; title: string }[];
  /** Section bodies (already HTML), in order. */
  sections: { id: string; title: string; body: string }[];
  charts: Chart[];
}

export function renderPage(p: PageParts): string {
  const libs = inlineLibraries();
  const charts = p.charts.map(({ id, vega, required }) => ({ id, vega, required }));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(p.title)}</h1>
<div class="meta">${p.meta}</div>
<nav>${p.nav.map((n) => `<a href="#${n.id}">${escapeHtml(n.title)}</a>`).join('')}</nav>
</header>
${p.sections.map((s) => `<section id="${s.id}">\n<h2>${escapeHtml(s.title)}</h2>\n${s.body}\n</section>`).join('\n')}
<footer>Self-contained: ${libs.map((l) => `${l.name} ${escapeHtml(l.version)}`).join(', ')} are inlined; the page makes no network request.</footer>
${libs.map((l) => `<script>/* ${l.name} ${l.version} */\n${l.code}\n</script>`).join('\n')}
<script type="application/json" id="report-charts">${scriptJson(charts)}</script>
<script>${RUNNER}</script>
</body>
</html>
`;
}
