import { main } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Run the CLI in-process with `now` as the run's reference time, capturing stdout and stderr. */
export async function runCli(now: Date, ...args: string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const code = await main(['node', 'cot', ...args], {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    now,
  });
  return { code, out, err };
}

/** `cot generate` arguments for a task with fixed ids (worker group g, worker id w, run 0). */
export function generateArgs(task: string, ...extra: string[]): string[] {
  return [
    'generate',
    '--task',
    task,
    '--task-id',
    'LnshJjNXTfeBlPNrAzyy9w',
    '--run-id',
    '0',
    '--worker-group',
    'g',
    '--worker-id',
    'w',
    ...extra,
  ];
}
