// Download + hash-check into a file: cot (downloadArtifact with dest and expected sha256, in a child process)
// against the shell pipeline `curl -s URL | tee FILE | openssl dgst -sha256`, from the same `cot queue serve`, in
// the same run, alternating, median of `reps` each. Both follow the queue's 303 to the content URL. cot's time is
// downloadArtifact's own (after the child has loaded and made one queue call); the pipeline's is the whole
// shell's. cot also fsyncs the file before renaming it into place; tee does not.
// `node bench/download-compare.js ROOT_URL TASK_ID NAME SHA256 [REPS]` runs it alone and prints the result.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 20, encoding: 'utf8' });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.slice(0, 4).join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
};

/**
 * Returns { cot, curl, ratio, bytes, cotSeconds, curlSeconds }: cot and curl in MB/s (10^6 bytes per second,
 * medians of `reps`), ratio = cot / curl (>= 1: cot at least as fast).
 */
export async function benchDownloadCompare({
  rootUrl,
  taskId,
  name,
  sha256,
  reps = 5,
  log = () => undefined,
}) {
  const dir = await mkdtemp(join(tmpdir(), 'cot-dl-compare-'));
  const url = `${rootUrl}/api/queue/v1/task/${taskId}/runs/0/artifacts/${name.split('/').map(encodeURIComponent).join('/')}`;
  const child = fileURLToPath(new URL('./download-child.js', import.meta.url));
  const cotSeconds = [];
  const curlSeconds = [];
  let bytes = 0;
  try {
    for (let i = 0; i < reps; i++) {
      const dest = join(dir, 'cot.bin');
      const r = JSON.parse(run(process.execPath, [child, rootUrl, taskId, name, dest, sha256]));
      if (r.sha256 !== sha256 || (await stat(dest)).size !== r.size)
        throw new Error('cot: downloaded bytes differ');
      bytes = r.size;
      cotSeconds.push(r.seconds);
      await rm(dest);
      const file = join(dir, 'curl.bin');
      const t = performance.now();
      const out = run('bash', [
        '-c',
        'set -o pipefail; curl -sfL "$1" | tee "$2" | openssl dgst -sha256 -r',
        'sh',
        url,
        file,
      ]);
      curlSeconds.push((performance.now() - t) / 1000);
      if (out.split(' ')[0] !== sha256) throw new Error(`curl pipeline: digest differs (${out.trim()})`);
      await rm(file);
      log(
        `download compare ${i + 1}/${reps}: cot ${r.seconds.toFixed(2)} s, curl|tee|openssl ${curlSeconds.at(-1).toFixed(2)} s`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const cot = bytes / median(cotSeconds) / 1e6;
  const curl = bytes / median(curlSeconds) / 1e6;
  return { cot, curl, ratio: cot / curl, bytes, cotSeconds, curlSeconds };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [rootUrl, taskId, name, sha256, reps] = process.argv.slice(2);
  const r = await benchDownloadCompare({
    rootUrl,
    taskId,
    name,
    sha256,
    reps: Number(reps ?? 5),
    log: (s) => process.stderr.write(`${s}\n`),
  });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
