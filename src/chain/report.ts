import { escapeControls } from '../util/terminal.js';
import type { ChainError, ChainLink, ChainReport } from './verify-chain.js';

/** A byte count for people: `512 bytes`, `1.6 kB`, `1.5 MB`, `8.6 GB` (powers of 1000, as the progress line). */
function formatBytes(n: number): string {
  if (n < 1000) return `${n} byte${n === 1 ? '' : 's'}`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Where a task ran: its worker implementation, else its worker type, else that its definition was not fetched. */
export function ranOn(l: ChainLink): string {
  if (l.implementation) return l.implementation;
  if (l.provisionerId || l.workerType) return `${l.provisionerId}/${l.workerType}`;
  return '(no definition: the queue did not give it)';
}

/**
 * The counts of a report: tasks and failures, then what was read, each with its own bytes: the consumed artifacts
 * hash-checked, and apart, the chain-of-trust documents (with their signatures) and task graphs; the time taken;
 * the number of warnings of the links (ChainLink.warnings) when there are some.
 */
export function chainCounts(r: ChainReport): string {
  const failed = r.links.filter((l) => !l.ok).length;
  const s = r.stats;
  const artifacts =
    s.artifactsChecked === 0
      ? 'no artifact hash-checked'
      : `${plural(s.artifactsChecked, 'artifact')} hash-checked (${formatBytes(s.bytesHashed)})`;
  const documents = `${plural(s.documentsRead, 'chain-of-trust document')}${
    s.taskGraphsRead > 0 ? ` and ${plural(s.taskGraphsRead, 'task graph')}` : ''
  } read (${formatBytes(s.documentBytes)})`;
  const warnings = r.links.reduce((n, l) => n + (l.warnings?.length ?? 0), 0);
  return `${plural(r.links.length, 'task')}, ${failed} failed; ${artifacts}; ${documents}; ${s.seconds.toFixed(2)} s, as of ${r.referenceTime}${warnings > 0 ? `; ${plural(warnings, 'warning')}` : ''}`;
}

/**
 * How every chain report (text, HTML) names a link's signer: `signed by SIGNER` and `certified by ROOT`, from the
 * link's `signer` and `certifiedBy` (presentLinkSigners, src/cot/present-signer.ts, the one presenter of signers;
 * the JSON report carries the same two fields). Each absent when the link has none.
 */
export function signerPhrases(l: ChainLink): { signedBy?: string; certifiedBy?: string } {
  return {
    ...(l.signer ? { signedBy: `signed by ${l.signer}` } : {}),
    ...(l.certifiedBy ? { certifiedBy: `certified by ${l.certifiedBy}` } : {}),
  };
}

/** The last line of the text report: the verdict, then chainCounts. */
function chainSummary(r: ChainReport): string {
  return `${r.ok ? 'VERIFIED' : 'NOT VERIFIED'}: ${chainCounts(r)}`;
}

/**
 * The text report: a tree of the chain's tasks, from the verified task up to the decision task(s), each with its
 * checks and failures, and a summary line (chainSummary). Everything in it that came
 * from the queue or a document (task ids, names, worker types, messages) is printed with control, bidi and other
 * invisible characters escaped (escapeControls), one line per item: no task name can paint a fake verdict.
 */
export function renderChainText(r: ChainReport): string {
  const byId = new Map(r.links.map((l) => [l.taskId, l]));
  const out: string[] = [];
  const seen = new Set<string>();
  const line = (l: ChainLink) => {
    const { signedBy, certifiedBy } = signerPhrases(l);
    return `${l.ok ? 'ok  ' : 'FAIL'} ${l.taskId} ${l.name ? `${l.name} ` : ''}(${l.kinds.length ? l.kinds.join(', ') : l.role}) ${ranOn(l)}${
      l.runId !== undefined ? ` run ${l.runId}` : ''
    }${signedBy ? ` ${signedBy}` : ''}${certifiedBy ? `, ${certifiedBy}` : ''}${
      l.image && l.image.type !== 'none'
        ? `; image ${l.image.name ?? l.image.type} (${l.image.type}, ${l.image.verified ? 'verified' : 'NOT verified'})`
        : ''
    }`;
  };
  const walk = (id: string, prefix: string, last: boolean, top: boolean) => {
    const l = byId.get(id);
    if (!l) return;
    const branch = top ? '' : last ? '└─ ' : '├─ ';
    const cont = top ? '' : last ? '   ' : '│  ';
    if (seen.has(id)) {
      out.push(`${prefix}${branch}${l.ok ? 'ok  ' : 'FAIL'} ${id} (see above)`);
      return;
    }
    seen.add(id);
    out.push(`${prefix}${branch}${line(l)}`);
    for (const c of l.checks) out.push(`${prefix}${cont}     · ${c}`);
    for (const w of l.warnings ?? []) out.push(`${prefix}${cont}     ⚠ warning: ${w}`);
    for (const e of l.errors) out.push(`${prefix}${cont}     ✗ ${e.code}: ${e.message}`);
    // a failure about an artifact this task produced is recorded on its consumer: marked here too
    for (const e of r.errors)
      if (e.producer === id && e.taskId !== undefined && e.taskId !== id)
        out.push(
          `${prefix}${cont}     ! produced ${e.artifact}, which failed a check of task ${e.taskId}: ${e.code}`,
        );
    const kids = l.upstream.filter((u) => byId.has(u));
    for (let i = 0; i < kids.length; i++) walk(kids[i]!, prefix + cont, i === kids.length - 1, false);
  };
  walk(r.root, '', true, true);
  const other = r.errors.filter((e) => !e.taskId);
  for (const e of other) out.push(`✗ ${e.code}: ${e.message}`);
  out.push('', chainSummary(r));
  return `${out.map(escapeControls).join('\n')}\n`;
}

/**
 * The version of every `--json` output's shape (`schemaVersion`, first member of each), described by the JSON Schemas
 * shipped in schemas/*.schema.json. Members may be added within a version; removing or changing one bumps it.
 */
export const JSON_SCHEMA_VERSION = 1;

/**
 * The machine-readable report (stable field names and error codes), as `cot verify --json` prints it:
 * schemas/chain-report.schema.json.
 */
export function chainReportJson(r: ChainReport): Record<string, unknown> {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    ok: r.ok,
    root: r.root,
    referenceTime: r.referenceTime,
    links: r.links,
    errors: r.errors,
    stats: r.stats,
  };
}

/**
 * The failure that caused `e`: a failure recorded because a task it relies on did not verify (a consumed artifact's
 * producer, a docker-image task: `details.causedBy` names that task) is followed to the first failure of that task,
 * and so on up the chain (each task once); `e` itself when it has no recorded cause. So a summary can name the 503
 * or the missing task behind "whose chain-of-trust document did not verify".
 */
export function rootCause<E extends ChainError>(errors: readonly E[], e: E): E {
  const seen = new Set<string>();
  let at = e;
  for (;;) {
    const by = at.details?.causedBy;
    if (typeof by !== 'string' || seen.has(by)) return at;
    seen.add(by);
    const next = errors.find((x) => x.taskId === by);
    if (!next) return at;
    at = next;
  }
}
