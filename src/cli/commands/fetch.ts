import type { Command } from '@commander-js/extra-typings';
import { failureOutcome } from '../../failures.js';
import { type FetchResult, fetchChain } from '../../mirror/fetch.js';
import type { FetchTreeOptions } from '../../mirror/trees.js';
import { DEFAULT_DEADLINE_MS, DEFAULT_MIN_BYTES_PER_SECOND } from '../../transport/http.js';
import { DEFAULT_PROJECTS_URL, DEFAULT_TREE_HOSTS } from '../../tree/online.js';
import { assertSeparateFolders } from '../../util/output-paths.js';
import { escapeControls } from '../../util/terminal.js';
import { exitCodeFor } from '../exit-codes.js';
import { count, failureJson, type Io, jsonOut, type ReportedFailure, reportFailure } from '../io.js';
import { examples, numberOption, taskIdArgument, usage } from '../options.js';
import { queueFromOptions, withDownloadQueueOptions } from '../queue-options.js';
import { treeFetchOptions } from '../tree-fetch.js';

/** `cot fetch`: fetchChain into a directory store; an incomplete mirror is reported, then fails the run. */
export function registerFetch(program: Command, io: Io): void {
  withDownloadQueueOptions(
    program
      .command('fetch')
      .description(
        'mirror a task, its chain-of-trust files and the upstream artifacts it consumes, up to the decision task',
      )
      .argument('<taskId>', 'the task to start from')
      .requiredOption('--out <dir>', 'directory store to write')
      .addOption(numberOption('--depth <n>', 'links to follow upwards', 20))
      .addOption(numberOption('--max-tasks <n>', 'most tasks to mirror', 1000))
      .option(
        '--follow-dependencies',
        'also follow task.dependencies (as a policy with followDependencies: true)',
      )
      .addOption(
        numberOption('--max-bytes <n>', 'largest artifact, bytes', 8 * 1024 ** 3, {
          shown: '8589934592 (8 GiB)',
        }),
      )
      .addOption(numberOption('--timeout <ms>', 'inactivity timeout per request', 30_000, { positive: true }))
      .addOption(
        numberOption('--deadline <ms>', 'overall deadline of one artifact download', DEFAULT_DEADLINE_MS, {
          positive: true,
        }),
      )
      .addOption(
        numberOption(
          '--min-rate <bytes/s>',
          'minimum download rate after a 30 s grace period (0: none)',
          DEFAULT_MIN_BYTES_PER_SECOND,
        ),
      )
      .option(
        '--trees',
        "also mirror the tree material of the decision, cron and action tasks into <out>/trees/, fetched from the repositories' hosts",
      )
      .option(
        '--tree-host <host>',
        `with --trees: a host tree material may be fetched from, repeatable (default: ${DEFAULT_TREE_HOSTS.join(', ')})`,
        collect,
      )
      .option(
        '--tree-base-url <host=url>',
        'with --trees: reach an allowed tree host at another base URL (a mirror), repeatable',
        collect,
      )
      .option(
        '--projects-url <url>',
        `with --trees: where projects.yml is fetched from (default: ${DEFAULT_PROJECTS_URL})`,
      )
      .option(
        '--env-prefix <prefix>',
        "with --trees: prefix of the repository variables in the decision tasks' env (GECKO...); default: told from each env",
      )
      .option('--json', 'print a JSON result')
      .addHelpText(
        'after',
        examples(
          'cot fetch T_ZwPp7sRfGObG6cL0YmoA --root-url https://tc.example.com --out ./mirror',
          'cot verify T_ZwPp7sRfGObG6cL0YmoA --queue ./mirror --policy policy.yml   # then, offline',
          'cot fetch T_ZwPp7sRfGObG6cL0YmoA --root-url https://tc.example.com --out ./mirror --trees   # with the tree',
        ),
      ),
  )
    .exitOverride()
    .action(async (taskId, o) => {
      if (o.queue !== undefined)
        await assertSeparateFolders({ path: o.out, what: '--out' }, { path: o.queue, what: '--queue' });
      taskIdArgument(taskId);
      if (!o.trees && (o.treeHost || o.treeBaseUrl || o.projectsUrl || o.envPrefix))
        throw usage('--tree-host, --tree-base-url, --projects-url and --env-prefix go with --trees');
      // the queue applies the limits to its API reads, and to every download as defaults
      const queue = await queueFromOptions(o, process.env, {
        timeoutMs: o.timeout,
        downloadDeadlineMs: o.deadline,
        minBytesPerSecond: o.minRate,
      });
      const r = await fetchChain(queue, taskId, o.out, {
        depth: o.depth,
        maxTasks: o.maxTasks,
        maxBytes: o.maxBytes,
        ...(o.followDependencies ? { followDependencies: true } : {}),
        timeoutMs: o.timeout,
        deadlineMs: o.deadline,
        minBytesPerSecond: o.minRate,
        ...(o.trees ? { trees: treeOptions(o) } : {}),
      });
      const failure = fetchFailure(r, o.out);
      if (o.json) jsonOut(io, { ok: r.complete, ...r, ...failureJson(failure) });
      else printFetch(io, r, o.out);
      if (failure) reportFailure(io, failure);
    });
}

function collect(v: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), v];
}

/** The tree options of fetchChain from --tree-host, --tree-base-url, --projects-url and --env-prefix. */
function treeOptions(o: {
  treeHost?: string[];
  treeBaseUrl?: string[];
  projectsUrl?: string;
  envPrefix?: string;
}): FetchTreeOptions {
  if (o.envPrefix !== undefined && !/^[A-Z][A-Z0-9_]*$/.test(o.envPrefix))
    throw usage(
      `--env-prefix expects an upper-case prefix such as GECKO, got ${JSON.stringify(o.envPrefix)}`,
    );
  return {
    ...treeFetchOptions(o, process.env),
    ...(o.projectsUrl === undefined ? {} : { projectsUrl: o.projectsUrl }),
    ...(o.envPrefix === undefined ? {} : { envPrefix: o.envPrefix }),
  };
}

/**
 * The verdict of an incomplete mirror, by the same rule as cot verify (failureOutcome): exit 1 (FETCH_INCOMPLETE)
 * when an item is missing for a trust reason (a bound, an unsigned or unlisted artifact), else the first failure a
 * retry cannot fix, else the first transient one. Undefined for a complete mirror.
 */
function fetchFailure(r: FetchResult, out: string): ReportedFailure | undefined {
  if (r.complete) return undefined;
  const outcome = failureOutcome(r.missing, 'FETCH_INCOMPLETE') ?? {
    code: 'FETCH_INCOMPLETE' as const,
    deciding: undefined,
  };
  return {
    code: outcome.code,
    exitCode: exitCodeFor(outcome.code),
    message: `the mirror in ${out} is incomplete: ${r.truncated ? 'the walk stopped at --depth or --max-tasks; ' : ''}${count(r.missing.length, 'item')} missing${outcome.deciding ? `, first: ${outcome.deciding.code}: ${outcome.deciding.reason}` : ''}`,
  };
}

/** The mirror as a tree of tasks, what is missing, and a summary line; names from the queue escaped one by one. */
function printFetch(io: Io, r: FetchResult, out: string): void {
  for (const t of r.tasks)
    io.stdout(
      `${'  '.repeat(t.depth)}${escapeControls(t.taskId)}${t.runId !== undefined ? ` run ${t.runId}` : ''}: ${t.artifacts.map(escapeControls).join(', ') || 'no artifacts'}\n`,
    );
  for (const m of r.missing)
    io.stdout(
      `missing: ${m.taskId ?? 'the chain'}${m.artifact ? ` ${escapeControls(m.artifact)}` : ''}: ${m.code}: ${escapeControls(m.reason)}\n`,
    );
  io.stdout(
    `mirrored ${count(r.tasks.length, 'task')}, ${count(r.bytes, 'byte')}, into ${out}${r.complete ? '' : ` (INCOMPLETE: ${r.missing.length} missing${r.truncated ? ', the walk stopped at a bound' : ''})`}\n`,
  );
}
