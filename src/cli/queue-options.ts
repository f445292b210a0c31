import { stat } from 'node:fs/promises';
import { type Command, Option, type OptionValues } from '@commander-js/extra-typings';
import { CotError, fsError } from '../errors.js';
import { DirectoryQueue } from '../transport/dir-store.js';
import type { TaskQueue } from '../transport/queue.js';
import { TaskclusterQueue, type TaskclusterQueueOptions } from '../transport/taskcluster.js';
import { listOption } from './options.js';

/** The help of --root-url, as every command that reaches a Taskcluster queue says it. */
export const ROOT_URL_HELP =
  'a Taskcluster deployment or `cot queue serve` (default: TASKCLUSTER_ROOT_URL / TASKCLUSTER_PROXY_URL)';

/** The help of --allow-host, as every command that downloads artifacts says it. */
export const ALLOW_HOST_HELP = 'host that artifact redirects may lead to';

/** --queue / --root-url: where a command finds the queue (given both: commander refuses the command line). */
// biome-ignore lint/suspicious/noExplicitAny: commander's own Args type parameter is any[]
export function withQueueOptions<A extends any[], O extends OptionValues, G extends OptionValues>(
  c: Command<A, O, G>,
) {
  return c
    .addOption(new Option('--queue <dir>', 'a directory store (no server)').conflicts('rootUrl'))
    .addOption(new Option('--root-url <url>', ROOT_URL_HELP));
}

/** For commands that download artifacts: --queue / --root-url, and what their redirects may follow. */
// biome-ignore lint/suspicious/noExplicitAny: commander's own Args type parameter is any[]
export function withDownloadQueueOptions<A extends any[], O extends OptionValues, G extends OptionValues>(
  c: Command<A, O, G>,
) {
  return withQueueOptions(c)
    .addOption(listOption('--allow-host <host>', ALLOW_HOST_HELP))
    .option(
      '--allow-reference-artifacts',
      'follow reference artifacts (URLs chosen by tasks; refused by default)',
    );
}

/** What the queue options of a command give. */
interface QueueChoice {
  queue?: string | undefined;
  rootUrl?: string | undefined;
  allowHost?: readonly string[] | undefined;
  allowReferenceArtifacts?: boolean | undefined;
}

/**
 * The queue a command talks to: a directory store (--queue DIR, which must exist: FILE_NOT_FOUND, exit 4) or
 * Taskcluster (--root-url / environment; a half-set environment is USAGE, or OPTIONS_INVALID reported as USAGE). `limits` and `allowedHosts` apply to
 * Taskcluster only.
 */
export async function queueFromOptions(
  o: QueueChoice,
  env: NodeJS.ProcessEnv,
  extra: Partial<TaskclusterQueueOptions> = {},
): Promise<TaskQueue> {
  if (o.queue !== undefined) return await directoryQueue(o.queue);
  const hosts = [...(o.allowHost ?? []), ...(extra.allowedHosts ?? [])];
  const { allowedHosts: _, ...limits } = extra;
  return new TaskclusterQueue({
    ...TaskclusterQueue.optionsFromEnv(env, o.rootUrl),
    ...(hosts.length > 0 ? { allowedHosts: hosts } : {}),
    ...(o.allowReferenceArtifacts ? { allowReferenceArtifacts: true } : {}),
    ...limits,
  });
}

async function directoryQueue(dir: string): Promise<DirectoryQueue> {
  const st = await stat(dir).catch((e: unknown) => {
    const err = fsError(e, dir, '--queue');
    throw err.code === 'FILE_NOT_FOUND'
      ? new CotError('FILE_NOT_FOUND', `--queue ${dir}: no such directory store`, { cause: e })
      : err;
  });
  if (!st.isDirectory())
    throw new CotError('FILE_UNREADABLE', `--queue ${dir} is not a directory (a directory store)`);
  return new DirectoryQueue(dir);
}
