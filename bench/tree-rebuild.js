// The time to rebuild one parent task once its tree files are loaded (issue 12, target < 20 ms median): the shared
// vector's real Firefox decision task (../shared/interop/scriptworker-cot/cotv2/decision_hg-push.json, read in
// place; COT_SHARED_INTEROP overrides where ../shared/interop is) rebuilt from its tree folder with
// rebuildParentTask: context, JSON-e render (in cot's bounded render process, started once beforehand, as in a
// verification of many links) and comparison. Usable alone: `node bench/tree-rebuild.js [reps]` prints JSON.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { readTreeFolder } from '../dist/tree/files.js';
import { rebuildParentTask } from '../dist/tree/rebuild.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const INTEROP = process.env.COT_SHARED_INTEROP ?? resolve(REPO, '../shared/interop');
const COTV2 = join(INTEROP, 'scriptworker-cot/cotv2');
const TASK_ID = 'VQU9QMO4Teq7zr91FhBusg';

/**
 * Rebuild the shared decision_hg-push task `reps` times after one warm-up rebuild (which starts the render
 * process); returns the per-rebuild times in milliseconds, or null when the shared vectors are absent. Throws when
 * a rebuild does not match (the benchmark would measure a failure).
 */
export async function benchTreeRebuild(reps = 50) {
  const file = join(COTV2, 'decision_hg-push.json');
  if (!existsSync(file)) return null;
  const task = JSON.parse(await readFile(file, 'utf8'));
  const tree = await readTreeFolder(COTV2);
  const once = async () => {
    const r = await rebuildParentTask({ task, taskId: TASK_ID, tree, envPrefix: 'GECKO' });
    if (!r.matched) throw new Error(`tree rebuild bench: no match (${JSON.stringify(r.differences)})`);
  };
  await once();
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await once();
    ms.push(performance.now() - t);
  }
  return ms;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ms = await benchTreeRebuild(Number(process.argv[2] ?? 50));
  const sorted = ms ? [...ms].sort((a, b) => a - b) : null;
  process.stdout.write(
    `${JSON.stringify(sorted ? { reps: ms.length, medianMs: sorted[sorted.length >> 1], minMs: sorted[0], maxMs: sorted.at(-1) } : { skipped: `${COTV2} is absent` })}\n`,
  );
  process.exit(0);
}
