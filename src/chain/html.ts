import { escapeControls } from '../util/terminal.js';
import type { ChainLink, ChainReport } from './verify-chain.js';

/** HTML-escaped, with control, bidi and invisible characters shown as escapes (as in the text report). */
const esc = (s: string) =>
  escapeControls(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

/** Which docker image a link ran, and whether the chain verified it. */
function imageLine(l: ChainLink): string {
  if (!l.image || l.image.type === 'none') return '';
  return `image ${l.image.name ?? l.image.type} (${l.image.type}, ${l.image.verified ? 'verified' : 'not verified'})`;
}

/**
 * One self-contained HTML file (no network): the chain as an SVG graph, each link coloured by result, details on
 * hover (title) and on click (a panel), and every link's checks and errors listed below for reading and printing.
 */
export function renderChainHtml(r: ChainReport): string {
  const byDepth = new Map<number, ChainLink[]>();
  for (const l of r.links) byDepth.set(l.depth, [...(byDepth.get(l.depth) ?? []), l]);
  const W = 250;
  const H = 64;
  const GAP_X = 40;
  const GAP_Y = 70;
  const maxRow = Math.max(...[...byDepth.values()].map((v) => v.length), 1);
  const cols = Math.min(maxRow, 8);
  const pos = new Map<string, { x: number; y: number }>();
  let y = 20;
  for (const d of [...byDepth.keys()].sort((a, b) => a - b)) {
    const row = byDepth.get(d)!;
    row.forEach((l, i) => {
      pos.set(l.taskId, { x: 20 + (i % cols) * (W + GAP_X), y: y + Math.floor(i / cols) * (H + 20) });
    });
    y += Math.ceil(row.length / cols) * (H + 20) + GAP_Y - 20;
  }
  const width = 40 + cols * (W + GAP_X);
  const height = y + 20;
  const edges: string[] = [];
  for (const l of r.links) {
    const a = pos.get(l.taskId)!;
    for (const u of l.upstream) {
      const b = pos.get(u);
      if (!b) continue;
      edges.push(
        `<line x1="${a.x + W / 2}" y1="${a.y + H}" x2="${b.x + W / 2}" y2="${b.y}" class="edge" marker-end="url(#arrow)"/>`,
      );
    }
  }
  const nodes = r.links.map((l) => {
    const p = pos.get(l.taskId)!;
    const title = [
      `${l.taskId} (${l.kinds.length ? l.kinds.join(', ') : l.role})`,
      `${l.implementation ?? `${l.provisionerId}/${l.workerType}`}${l.runId !== undefined ? ` run ${l.runId}` : ''}`,
      l.signer ? `signed by ${l.signer}` : '',
      imageLine(l),
      ...l.errors.map((e) => `${e.code}: ${e.message}`),
    ]
      .filter(Boolean)
      .join('\n');
    return `<g class="node ${l.ok ? 'ok' : 'fail'}" data-task="${esc(l.taskId)}" tabindex="0" role="button" aria-label="${esc(`${l.role} ${l.taskId} ${l.ok ? 'verified' : 'failed'}`)}">
<title>${esc(title)}</title>
<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="8"/>
<text x="${p.x + 10}" y="${p.y + 22}" class="role">${l.ok ? '✔' : '✘'} ${esc(l.name || l.role)}${l.decision ? ' · decision' : ''}</text>
<text x="${p.x + 10}" y="${p.y + 42}" class="id">${esc(l.taskId)}</text>
<text x="${p.x + 10}" y="${p.y + 58}" class="impl">${esc(l.implementation ?? l.workerType)}</text>
</g>`;
  });
  const details = r.links
    .map(
      (l) => `<section class="link ${l.ok ? 'ok' : 'fail'}" id="link-${esc(l.taskId)}">
<h3>${l.ok ? '✔' : '✘'} ${esc(l.name || l.role)} <small>(${esc(l.kinds.length ? l.kinds.join(', ') : l.role)})</small> <code>${esc(l.taskId)}</code></h3>
<p>${esc(`${l.provisionerId}/${l.workerType}`)} → ${esc(l.implementation ?? 'no implementation')}${l.runId !== undefined ? ` · run ${l.runId}` : ''}${
        l.signer ? ` · signed by ${esc(l.signer)}` : ''
      }${l.certifiedBy ? ` · certified by ${esc(l.certifiedBy)}` : ''}${imageLine(l) ? ` · ${esc(imageLine(l))}` : ''}</p>
<ul>${l.checks.map((c) => `<li class="check">${esc(c)}</li>`).join('')}${l.errors.map((e) => `<li class="error"><b>${esc(e.code)}</b>: ${esc(e.message)}</li>`).join('')}</ul>
</section>`,
    )
    .join('\n');
  const failed = r.links.filter((l) => !l.ok).length;
  const other = r.errors.filter((e) => !e.taskId);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chain of trust: ${esc(r.root)} — ${r.ok ? 'verified' : 'NOT verified'}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#fafbfc}
header{padding:16px 24px;color:#fff;background:${r.ok ? '#1f7a3a' : '#b3261e'}}
header h1{margin:0;font-size:20px}
main{display:flex;gap:16px;padding:16px 24px;align-items:flex-start}
#graph{background:#fff;border:1px solid #d0d7de;border-radius:8px;overflow:auto;flex:1}
.node rect{stroke-width:2;cursor:pointer}
.node.ok rect{fill:#e6f4ea;stroke:#1f7a3a}.node.fail rect{fill:#fce8e6;stroke:#b3261e}
.node.selected rect{stroke-width:4}
.node text{font-size:12px;pointer-events:none}.node .role{font-weight:600}.node .id{font-family:monospace}
.edge{stroke:#8c959f;stroke-width:1.5}
#panel{width:360px;overflow-wrap:anywhere;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px;position:sticky;top:16px}
.link{background:#fff;border:1px solid #d0d7de;border-left:6px solid #1f7a3a;border-radius:6px;margin:8px 24px;padding:4px 12px}
.link{overflow-wrap:anywhere}.link.fail{border-left-color:#b3261e}.error{color:#b3261e}.check{color:#1f5f2e}
code{font-family:monospace}
</style></head><body>
<header><h1>Chain of trust of <code>${esc(r.root)}</code>: ${r.ok ? 'VERIFIED' : 'NOT VERIFIED'}</h1>
<p id="summary">${r.links.length} link(s), ${failed} failed, ${r.stats.artifactsChecked} artifact(s) hash-checked, as of ${esc(r.referenceTime)}</p></header>
${other.length ? `<p class="error" style="margin:8px 24px">${other.map((e) => `<b>${esc(e.code)}</b>: ${esc(e.message)}`).join('<br>')}</p>` : ''}
<main><div id="graph"><svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#8c959f"/></marker></defs>
${edges.join('\n')}
${nodes.join('\n')}
</svg></div>
<aside id="panel"><p>Click a link of the chain for its details.</p></aside></main>
<h2 style="margin:16px 24px 0">Links</h2>
${details}
<script>
for (const g of document.querySelectorAll('.node')) {
  const show = () => {
    for (const x of document.querySelectorAll('.node.selected')) x.classList.remove('selected');
    g.classList.add('selected');
    const s = document.getElementById('link-' + g.dataset.task);
    document.getElementById('panel').innerHTML = s ? s.innerHTML : '';
  };
  g.addEventListener('click', show);
  g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') show(); });
}
</script>
</body></html>
`;
}
