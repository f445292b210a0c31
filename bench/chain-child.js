// Child process of the benchmark: verify a chain and report time, phases and this process's peak RSS.
// Usage: node bench/chain-child.js TASK_ID POLICY (--queue DIR | --root-url URL)
import { performance } from 'node:perf_hooks';
import { loadPolicy, verifyChain } from '../dist/index.js';
import { DirectoryQueue, TaskclusterQueue } from '../dist/queue.js';

const [taskId, policyPath, how, where] = process.argv.slice(2);
const loaded = await loadPolicy(policyPath);
const queue =
  how === '--queue' ? new DirectoryQueue(where) : new TaskclusterQueue({ rootUrl: where, retries: 2 });
const t = performance.now();
const r = await verifyChain(queue, taskId, { policy: loaded.policy, trust: loaded.trust, at: new Date() });
process.stdout.write(
  JSON.stringify({
    ok: r.ok,
    errors: r.errors.slice(0, 3),
    links: r.links.length,
    artifacts: r.stats.artifactsChecked,
    seconds: (performance.now() - t) / 1000,
    phases: r.stats.phases,
    maxRssKiB: process.resourceUsage().maxRSS,
  }),
);
