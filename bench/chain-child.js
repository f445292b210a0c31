// Child process of the benchmark: verify a chain and report time, phases, this process's peak RSS and the HTTP
// requests it made and the connections it opened (counted through node:diagnostics_channel, requests by kind; none
// for a directory store).
// Usage: node bench/chain-child.js TASK_ID POLICY (--queue DIR | --root-url URL)
import { subscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { loadPolicy, verifyChain } from '../dist/index.js';
import { DirectoryQueue, TaskclusterQueue } from '../dist/queue.js';

const requests = { total: 0, connections: 0 };
/** The kind of a request to `cot queue serve` or the queue: its route, without ids and names. */
function kind(method, path) {
  const p = path.replace(/\?.*$/, '');
  if (p.startsWith('/_content/')) return 'content GET (after a 303)';
  const m = /^\/api\/queue\/v1\/(.*)$/.exec(p);
  if (!m) return `${method} other`;
  const r = m[1];
  if (r === 'tasks') return `${method} tasks (batch)`;
  if (r === 'tasks/status') return `${method} statuses (batch)`;
  if (/^task\/[^/]+$/.test(r)) return `${method} task`;
  if (/^task\/[^/]+\/status$/.test(r)) return `${method} status`;
  if (/^task\/[^/]+\/(runs\/\d+\/)?artifacts$/.test(r)) return `${method} listArtifacts`;
  if (/^task\/[^/]+\/(runs\/\d+\/)?artifacts\//.test(r)) return `${method} getArtifact (303)`;
  return `${method} other queue`;
}
subscribe('http.client.request.start', ({ request }) => {
  requests.total++;
  const k = kind(request.method, request.path);
  requests[k] = (requests[k] ?? 0) + 1;
});

subscribe('net.client.socket', () => {
  requests.connections++;
});

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
    requests,
  }),
);
