import { pushTo } from '../util/group.js';
import { escapeControls } from '../util/terminal.js';
import { chainCounts, ranOn, signerPhrases } from './report.js';
import type { ChainError, ChainLink, ChainReport } from './verify-chain.js';

/** HTML-escaped, with control, bidi and invisible characters shown as escapes (as in the text report). */
const esc = (s: string) =>
  escapeControls(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

/** Which docker image a task ran, and whether the chain verified it. */
function imageLine(l: ChainLink): string {
  if (!l.image || l.image.type === 'none') return '';
  return `image ${l.image.name ?? l.image.type} (${l.image.type}, ${l.image.verified ? 'verified' : 'not verified'})`;
}

const W = 250;
const H = 64;
const GAP_X = 40;
const GAP_Y = 70;
/** Left margin of the picture: room for the gutter left of the first column (see edgePath). */
const MARGIN_X = 40;
/** Room left between an arrow's tip and the box it points at, so the box's border never covers it. */
const TIP_GAP = 4;

interface Box {
  x: number;
  y: number;
}

/**
 * Where the segment between two box centres leaves box `b` (centre + direction scaled to the border), pulled back
 * by `gap` along the segment: edges start and end at the borders that face each other, so an arrowhead is drawn
 * in the free space beside its box, never under it (an edge to a box in the row above ends below it).
 */
function borderPoint(b: Box, towards: Box, gap: number): { x: number; y: number } {
  const cx = b.x + W / 2;
  const cy = b.y + H / 2;
  const dx = towards.x + W / 2 - cx;
  const dy = towards.y + H / 2 - cy;
  const len = Math.hypot(dx, dy) || 1;
  const t = Math.min(dx === 0 ? Infinity : W / 2 / Math.abs(dx), dy === 0 ? Infinity : H / 2 / Math.abs(dy));
  return { x: cx + dx * t + (dx / len) * gap, y: cy + dy * t + (dy / len) * gap };
}

const round = (n: number) => Math.round(n * 10) / 10;

/** A point of the quadratic curve from `p0` through control `c` to `p1`, at `t` in [0, 1]. */
function onCurve(p0: Point, c: Point, p1: Point, t: number): Point {
  const u = 1 - t;
  return {
    x: u * u * p0.x + 2 * u * t * c.x + t * t * p1.x,
    y: u * u * p0.y + 2 * u * t * c.y + t * t * p1.y,
  };
}

interface Point {
  x: number;
  y: number;
}

/**
 * The edge from box `a` to box `b` as an SVG path, never hidden behind a box it does not join: straight when that
 * passes no other box; between two boxes of one column with others between them (a task relying on one two rows
 * up), down the gutter left of the column, entering `b` from its side (`lane` spreads several such edges apart);
 * else bowed sideways (a quadratic curve, the first of a few offsets that clears every box), or straight when none
 * does. Ends sit on the borders facing the path, the tip TIP_GAP short of `b`. Returns the path, its tip and the
 * point its last segment comes from (the arrow's direction).
 */
function edgePath(
  a: Box,
  b: Box,
  others: readonly Box[],
  size: { width: number; height: number },
  lane: () => number,
): { d: string; from: Point; tip: Point } {
  const centre = (x: Box): Point => ({ x: x.x + W / 2, y: x.y + H / 2 });
  const [ca, cb] = [centre(a), centre(b)];
  const clear = (pts: Point[]) =>
    pts.every(
      (p) =>
        p.x >= 2 &&
        p.y >= 2 &&
        p.x <= size.width - 2 &&
        p.y <= size.height - 2 &&
        others.every((o) => p.x < o.x - 6 || p.x > o.x + W + 6 || p.y < o.y - 6 || p.y > o.y + H + 6),
    );
  const samples = (c: Point) => Array.from({ length: 24 }, (_, i) => onCurve(ca, c, cb, (i + 1) / 25));
  const p = (q: Point) => `${round(q.x)},${round(q.y)}`;
  const mid = { x: (ca.x + cb.x) / 2, y: (ca.y + cb.y) / 2 };
  if (!clear(samples(mid)) && a.x === b.x) {
    const n = lane();
    const gx = a.x - GAP_X / 2 - 5 * n;
    const start = { x: a.x, y: ca.y - 8 * n };
    const tip = { x: b.x - TIP_GAP, y: cb.y + 8 * n };
    const turn = { x: gx, y: tip.y };
    return { d: `M${p(start)} L${gx},${round(start.y)} L${p(turn)} L${p(tip)}`, from: turn, tip };
  }
  const len = Math.hypot(cb.x - ca.x, cb.y - ca.y) || 1;
  const normal = { x: -(cb.y - ca.y) / len, y: (cb.x - ca.x) / len };
  let control: Point | undefined;
  if (!clear(samples(mid))) {
    for (const k of [1, -1, 2, -2, 3, -3, 4, -4]) {
      const c = { x: mid.x + normal.x * 70 * k, y: mid.y + normal.y * 70 * k };
      if (clear(samples(c))) {
        control = c;
        break;
      }
    }
  }
  const towardsA = control ?? cb;
  const towardsB = control ?? ca;
  const from = borderPoint(a, { x: towardsA.x - W / 2, y: towardsA.y - H / 2 }, 0);
  const tip = borderPoint(b, { x: towardsB.x - W / 2, y: towardsB.y - H / 2 }, TIP_GAP);
  return control
    ? { d: `M${p(from)} Q${p(control)} ${p(tip)}`, from: control, tip }
    : { d: `M${p(from)} L${p(tip)}`, from, tip };
}

/** A task as a person reads it: its name and id, a link to its details. */
function taskRef(byId: Map<string, ChainLink>, id: string): string {
  const l = byId.get(id);
  return `<a href="#task-${esc(id)}">${l?.name ? `${esc(l.name)} ` : ''}<code>${esc(id)}</code></a>`;
}

/** Where each task's box sits: one row per depth (wrapped after 8 boxes), and the picture's size. */
interface Layout {
  pos: Map<string, Box>;
  width: number;
  height: number;
}

function layout(r: ChainReport): Layout {
  const byDepth = new Map<number, ChainLink[]>();
  for (const l of r.links) pushTo(byDepth, l.depth, l);
  const maxRow = Math.max(...[...byDepth.values()].map((v) => v.length), 1);
  const cols = Math.min(maxRow, 8);
  const pos = new Map<string, Box>();
  let y = 20;
  for (const d of [...byDepth.keys()].sort((a, b) => a - b)) {
    const row = byDepth.get(d)!;
    row.forEach((l, i) => {
      pos.set(l.taskId, { x: MARGIN_X + (i % cols) * (W + GAP_X), y: y + Math.floor(i / cols) * (H + 20) });
    });
    y += Math.ceil(row.length / cols) * (H + 20) + GAP_Y - 20;
  }
  const width = MARGIN_X + cols * (W + GAP_X) - GAP_X + 20;
  const height = Math.max(...[...pos.values()].map((b) => b.y + H), H) + 20;
  return { pos, width, height };
}

/** Failures about an artifact: recorded on the consumer, the producer is marked too. */
interface Implicated {
  /** producer task id -> the failures of artifacts it produced */
  byProducer: Map<string, ChainError[]>;
  /** `consumer\nproducer` of every edge a failed artifact travelled */
  failedEdges: Set<string>;
}

function implicated(r: ChainReport): Implicated {
  const aboutArtifacts = r.errors.filter((e): e is ChainError & { producer: string; taskId: string } =>
    Boolean(e.producer && e.taskId),
  );
  const byProducer = new Map<string, ChainError[]>();
  for (const e of aboutArtifacts) pushTo(byProducer, e.producer, e);
  return { byProducer, failedEdges: new Set(aboutArtifacts.map((e) => `${e.taskId}\n${e.producer}`)) };
}

/** The arrows of the graph, from each task to the tasks it relies on (edgePath), failed ones in red. */
function edgesSvg(r: ChainReport, g: Layout, imp: Implicated): string[] {
  const edges: string[] = [];
  /** gutter edges already drawn to each task (edgePath's lane) */
  const lanes = new Map<string, number>();
  for (const l of r.links) {
    const a = g.pos.get(l.taskId)!;
    for (const u of l.upstream) {
      const b = g.pos.get(u);
      if (!b) continue;
      const others = [...g.pos.entries()].filter(([id]) => id !== l.taskId && id !== u).map(([, box]) => box);
      const path = edgePath(a, b, others, { width: g.width, height: g.height }, () => {
        const n = lanes.get(u) ?? 0;
        lanes.set(u, n + 1);
        return n;
      });
      const failed = imp.failedEdges.has(`${l.taskId}\n${u}`);
      edges.push(
        `<path d="${path.d}" class="edge${failed ? ' failed' : ''}" data-from="${esc(l.taskId)}" data-to="${esc(u)}" data-tip="${round(path.tip.x)},${round(path.tip.y)}" data-towards="${round(path.from.x)},${round(path.from.y)}" marker-end="url(#${failed ? 'arrow-failed' : 'arrow'})"/>`,
      );
    }
  }
  return edges;
}

/** One box of the graph: its result, name, id and worker; the details on hover (title). */
function nodeSvg(l: ChainLink, p: Box, marks: readonly ChainError[]): string {
  const { signedBy } = signerPhrases(l);
  const title = [
    `${l.taskId} (${l.kinds.length ? l.kinds.join(', ') : l.role})`,
    `${ranOn(l)}${l.runId !== undefined ? ` run ${l.runId}` : ''}`,
    signedBy ?? '',
    imageLine(l),
    ...l.errors.map((e) => `${e.code}: ${e.message}`),
    ...marks.map((e) => `produced ${e.artifact}, which failed for task ${e.taskId}: ${e.code}`),
  ]
    .filter(Boolean)
    .join('\n');
  const state = l.ok ? 'verified' : 'failed';
  return `<g class="node ${l.ok ? 'ok' : 'fail'}${marks.length ? ' implicated' : ''}" data-task="${esc(l.taskId)}" tabindex="0" role="button" aria-label="${esc(`task ${l.name || l.role} ${l.taskId} ${state}${marks.length ? `; produced an artifact that failed a check of task ${marks[0]!.taskId}` : ''}`)}">
<title>${esc(title)}</title>
${marks.length ? `<rect class="mark" x="${p.x - 5}" y="${p.y - 5}" width="${W + 10}" height="${H + 10}" rx="11"/>\n` : ''}<rect class="box" x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="8"/>
<text x="${p.x + 10}" y="${p.y + 22}" class="role">${l.ok ? '✔' : '✘'}${marks.length ? ' ⚠' : ''} ${esc(l.name || l.role)}${l.decision ? ' · decision' : ''}</text>
<text x="${p.x + 10}" y="${p.y + 42}" class="id">${esc(l.taskId)}</text>
<text x="${p.x + 10}" y="${p.y + 58}" class="impl">${esc(l.implementation ?? l.workerType)}</text>
</g>`;
}

/** A task's section below the graph (and in the panel on click): where it ran, its signer, checks and failures. */
function detailsSection(l: ChainLink, marks: readonly ChainError[]): string {
  const { signedBy, certifiedBy } = signerPhrases(l);
  return `<section class="task ${l.ok ? 'ok' : 'fail'}${marks.length ? ' implicated' : ''}" id="task-${esc(l.taskId)}">
<h3>${l.ok ? '✔' : '✘'} ${esc(l.name || l.role)} <small>(${esc(l.kinds.length ? l.kinds.join(', ') : l.role)})</small> <code>${esc(l.taskId)}</code></h3>
<p>${l.provisionerId || l.workerType ? `${esc(`${l.provisionerId}/${l.workerType}`)} → ` : ''}${esc(l.implementation ?? ranOn(l))}${l.runId !== undefined ? ` · run ${l.runId}` : ''}${
    signedBy ? ` · ${esc(signedBy)}` : ''
  }${certifiedBy ? ` · ${esc(certifiedBy)}` : ''}${imageLine(l) ? ` · ${esc(imageLine(l))}` : ''}</p>
<ul>${l.checks.map((c) => `<li class="check">${esc(c)}</li>`).join('')}${(l.warnings ?? []).map((w) => `<li class="warning">⚠ warning: ${esc(w)}</li>`).join('')}${l.errors.map((e) => `<li class="error"><b>${esc(e.code)}</b>: ${esc(e.message)}</li>`).join('')}${marks
    .map(
      (e) =>
        `<li class="produced">⚠ produced <code>${esc(e.artifact ?? '')}</code>, which failed a check of task <code>${esc(e.taskId ?? '')}</code>: <b>${esc(e.code)}</b></li>`,
    )
    .join('')}</ul>
</section>`;
}

/** The failures summarised at the top, each naming its task (and the producer of a failed artifact). */
function failuresSection(r: ChainReport): string {
  const byId = new Map(r.links.map((l) => [l.taskId, l]));
  const failures = r.errors.map((e) => {
    const where = e.taskId ? ` on task ${taskRef(byId, e.taskId)}` : ' on the chain';
    const producer =
      e.producer && e.producer !== e.taskId
        ? ` · artifact <code>${esc(e.artifact ?? '')}</code> of task ${taskRef(byId, e.producer)} (outlined in the graph)`
        : '';
    return `<li class="failure" data-code="${esc(e.code)}"${e.taskId ? ` data-task="${esc(e.taskId)}"` : ''}${e.producer ? ` data-producer="${esc(e.producer)}"` : ''}><b>${esc(e.code)}</b>${where}${producer}<br>${esc(e.message)}</li>`;
  });
  if (failures.length === 0) return '';
  return `<section id="failures"><h2>${failures.length} failure${failures.length === 1 ? '' : 's'}</h2>
<ol>${failures.join('\n')}</ol></section>`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#fafbfc;overflow-wrap:anywhere}
header{padding:16px 24px;color:#fff;background:HEADER_BG}
header h1{margin:0;font-size:20px}
#failures{margin:12px 24px;padding:8px 16px;background:#fff;border:1px solid #b3261e;border-left:6px solid #b3261e;border-radius:6px}
#failures h2{margin:4px 0;font-size:16px;color:#b3261e}#failures ol{margin:4px 0;padding-left:24px}#failures li{margin:6px 0}
main{display:flex;gap:16px;padding:16px 24px;align-items:flex-start}
#graph{flex:1 1 auto;min-width:0;max-width:100%;overflow:auto;background:#fff;border:1px solid #d0d7de;border-radius:8px}
#graph svg{display:block}
.legend{margin:8px 12px;color:#57606a;font-size:12px}
.node .box{stroke-width:2;cursor:pointer}
.node.ok .box{fill:#e6f4ea;stroke:#1f7a3a}.node.fail .box{fill:#fce8e6;stroke:#b3261e}
.node .mark{fill:none;stroke:#b26a00;stroke-width:3;stroke-dasharray:7 4}
.node.selected .box{stroke-width:4}
.node text{font-size:12px;pointer-events:none}.node .role{font-weight:600}.node .id{font-family:monospace}
.edge{stroke:#8c959f;stroke-width:1.5;fill:none}.edge.failed{stroke:#b3261e;stroke-width:2.5}
#panel{flex:0 0 340px;box-sizing:border-box;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px;position:sticky;top:16px}
@media (max-width:1100px){main{flex-direction:column;align-items:stretch}#panel{position:static;flex:none;width:auto}}
.task{background:#fff;border:1px solid #d0d7de;border-left:6px solid #1f7a3a;border-radius:6px;margin:8px 24px;padding:4px 12px}
.task.fail{border-left-color:#b3261e}.task.implicated{outline:3px dashed #b26a00;outline-offset:-1px}
.error{color:#b3261e}.check{color:#1f5f2e}.produced,.warning{color:#8a5300}
code{font-family:monospace}`;

const SCRIPT = `for (const g of document.querySelectorAll('.node')) {
  const show = () => {
    for (const x of document.querySelectorAll('.node.selected')) x.classList.remove('selected');
    g.classList.add('selected');
    const s = document.getElementById('task-' + g.dataset.task);
    document.getElementById('panel').innerHTML = s ? s.innerHTML : '';
  };
  g.addEventListener('click', show);
  g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') show(); });
}`;

/**
 * One self-contained HTML file (no network): the failures summarised at the top, each naming the task it was
 * recorded on (and, for an artifact, the task that produced it); the chain as an SVG graph, each task coloured by
 * result, the producers of a failed artifact outlined too, arrows (from a task to the tasks it relies on) ending
 * beside their boxes; details on hover (title) and on click (a panel); every task's checks and failures listed
 * below for reading and printing. The graph scrolls in its own box and the panel goes below it on narrow screens,
 * so the page itself never scrolls sideways (900 px wide and up).
 */
export function renderChainHtml(r: ChainReport): string {
  const g = layout(r);
  const imp = implicated(r);
  const marksOf = (l: ChainLink) => imp.byProducer.get(l.taskId) ?? [];
  const edges = edgesSvg(r, g, imp);
  const nodes = r.links.map((l) => nodeSvg(l, g.pos.get(l.taskId)!, marksOf(l)));
  const details = r.links.map((l) => detailsSection(l, marksOf(l))).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chain of trust: ${esc(r.root)} — ${r.ok ? 'verified' : 'NOT verified'}</title>
<style>
${STYLE.replace('HEADER_BG', r.ok ? '#1f7a3a' : '#b3261e')}
</style></head><body>
<header><h1>Chain of trust of <code>${esc(r.root)}</code>: ${r.ok ? 'VERIFIED' : 'NOT VERIFIED'}</h1>
<p id="summary">${esc(chainCounts(r))}</p></header>
${failuresSection(r)}
<main><div id="graph"><p class="legend">Arrows point from a task to the tasks it relies on (its parent, its inputs, the tasks whose artifacts it consumes). Green: verified; red: failed; dashed amber outline: produced an artifact that failed a check of the task consuming it.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}" viewBox="0 0 ${g.width} ${g.height}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="14" markerHeight="14" orient="auto"><path d="M0,0L10,5L0,10z" fill="#3d444d"/></marker>
<marker id="arrow-failed" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="16" markerHeight="16" orient="auto"><path d="M0,0L10,5L0,10z" fill="#b3261e"/></marker></defs>
${edges.join('\n')}
${nodes.join('\n')}
</svg></div>
<aside id="panel"><p>Click a task of the chain for its details.</p></aside></main>
<h2 style="margin:16px 24px 0">Tasks</h2>
${details}
<script>
${SCRIPT}
</script>
</body></html>
`;
}
