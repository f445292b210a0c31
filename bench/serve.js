// Start `cot queue serve` as a separate process (so it has its own CPU time) and wait for its rootUrl.
import { spawn } from 'node:child_process';

export async function serveProcess(dir) {
  const server = spawn(process.execPath, ['bin/cot.js', 'queue', 'serve', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rootUrl = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (c) => {
      out += c;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    server.once('exit', (c) => reject(new Error(`cot queue serve exited ${c}`)));
  });
  return { rootUrl, stop: () => server.kill('SIGTERM') };
}
