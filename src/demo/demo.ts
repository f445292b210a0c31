import { join, resolve } from 'node:path';
import { renderChainHtml } from '../chain/html.js';
import { loadPolicy } from '../chain/policy.js';
import { type ChainReport, verifyChain } from '../chain/verify-chain.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptions } from '../util/options.js';
import { buildDemoLab, DEMO_TREE_TAMPERS, type DemoTreeTamper } from './builder.js';
import { claimDemoFolder } from './folder.js';

export { DEMO_MARKER } from './folder.js';

export interface DemoOptions {
  out: string;
  /** change a build artifact after it was signed: the verification must fail */
  tamper?: boolean;
  /**
   * break the trace to the source tree (DemoTreeTamper): `decision`, a decision task its tree did not render
   * (TREE_TASK_MISMATCH); `untrusted`, a release scope from a repository the policy does not trust
   * (TREE_SCOPE_NOT_ALLOWED)
   */
  tamperTree?: DemoTreeTamper;
  /**
   * build in `out` even if it is a non-empty folder the demo did not make (no DEMO_MARKER): the demo's own files
   * are written there (replacing files at their names), nothing else in it is touched or removed
   */
  force?: boolean;
  now: Date;
}

export interface DemoResult {
  /** the demo folder, absolute */
  dir: string;
  /** the task whose chain was verified (beetmover) */
  taskId: string;
  /** the path of the demo's policy.yml */
  policy: string;
  report: ChainReport;
  /** the path of the HTML report written in the demo folder */
  reportHtml: string;
  /** every task id by label, in run order */
  tasks: Record<string, string>;
}

/**
 * The project's main job on the embedded default (a directory store, no server, no network): keys for a
 * docker-worker (OpenPGP), a generic-worker (ed25519) and a scriptworker (OpenPGP, certified by a trusted root in a
 * key repository); a realistic task graph (decision, docker-image, two builds, signing, beetmover); every
 * chain-of-trust document made by cot's own generator (buildDemoLab, ./builder.ts); its source tree (`tree/`: the
 * decision task's `.taskcluster.yml`, pushlog and projects.yml, ./tree.ts) and the policy's `tree` section; then the
 * chain of the final task verified (its decision task rebuilt from the tree, the chain traced to its repository), `demo.json` (taskId, policy, queue) and `report.html` written. Prints nothing.
 *
 * `out` is the demo's own folder: a new or empty one, or one it made before (DEMO_MARKER, whose list of what the
 * previous run made is removed first, nothing else); any other non-empty folder is FILE_EXISTS unless `force`
 * (then nothing is removed). The marker is written first and rewritten at the end, even after a failure, listing
 * what this run made. Throws OPTIONS_INVALID, FILE_EXISTS, OUTPUT_FAILED, and the codes of the steps
 * (generateKeyPair, certifyKeyFile, generateChainOfTrust, loadPolicy).
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  checkOptions('runDemo', o, {
    out: { kind: 'string' },
    tamper: { kind: 'boolean', optional: true },
    tamperTree: { kind: 'string', optional: true, oneOf: DEMO_TREE_TAMPERS },
    now: { kind: 'date' },
  });
  const dir = resolve(o.out);
  const writeManifest = await claimDemoFolder(dir, Boolean(o.force));
  try {
    return await buildAndVerify(o, dir);
  } finally {
    await writeManifest();
  }
}

/** The demo's steps inside its claimed folder: build the lab, record demo.json, verify, write report.html. */
async function buildAndVerify(o: DemoOptions, dir: string): Promise<DemoResult> {
  const lab = await buildDemoLab({
    dir,
    now: o.now,
    tamper: Boolean(o.tamper),
    tree: true,
    ...(o.tamperTree === undefined ? {} : { tamperTree: o.tamperTree }),
  });
  await writeFileAtomic(
    join(dir, 'demo.json'),
    `${JSON.stringify({ taskId: lab.taskId, policy: 'policy.yml', queue: 'queue' }, null, 2)}\n`,
  );
  const loaded = await loadPolicy(lab.policy);
  const report = await verifyChain(lab.queue, lab.taskId, {
    policy: loaded.policy,
    trust: loaded.trust,
    at: o.now,
  });
  const reportHtml = join(dir, 'report.html');
  await writeFileAtomic(reportHtml, renderChainHtml(report));
  return { dir, taskId: lab.taskId, policy: lab.policy, report, reportHtml, tasks: lab.tasks };
}
