// Child process of the benchmark: download one artifact from a queue (a served directory store), hashing in one
// pass, and report the time and this process's peak RSS. Usage: node bench/download-child.js ROOT_URL TASK_ID NAME
// [DEST [SHA256]]: with DEST the bytes are written there (temp file, fsync, rename), with SHA256 they are checked
// against it before the file is committed.
import { performance } from 'node:perf_hooks';
import { downloadArtifact, TaskclusterQueue } from '../dist/queue.js';

const [rootUrl, taskId, name, dest, sha256] = process.argv.slice(2);
const queue = new TaskclusterQueue({ rootUrl, retries: 0 });
await queue.latestRunId(taskId); // warm up: load the client and open the connection, outside the timing
const t = performance.now();
const r = await downloadArtifact(queue, taskId, 0, name, {
  maxBytes: 16 * 1024 ** 3,
  timeoutMs: 60_000,
  ...(dest ? { dest } : {}),
  ...(sha256 ? { expected: { sha256 } } : {}),
});
const seconds = (performance.now() - t) / 1000;
process.stdout.write(
  JSON.stringify({
    seconds,
    size: r.size,
    sha256: r.digests.sha256,
    maxRssKiB: process.resourceUsage().maxRSS,
  }),
);
