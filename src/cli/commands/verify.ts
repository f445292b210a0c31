import type { Command } from '@commander-js/extra-typings';
import { renderChainHtml } from '../../chain/html.js';
import { type LoadedPolicy, loadPolicy } from '../../chain/policy.js';
import { policyQueueOptions } from '../../chain/queue-options.js';
import { chainReportJson, renderChainText, rootCause } from '../../chain/report.js';
import { type ChainReport, verifyChain } from '../../chain/verify-chain.js';
import { CotError } from '../../errors.js';
import { failureOutcome } from '../../failures.js';
import { DirectoryQueue } from '../../transport/dir-store.js';
import { DEFAULT_TREE_HOSTS } from '../../tree/online.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { isInside } from '../../util/fs-paths.js';
import { assertDistinctOutputs, assertFileTarget, canonicalPath } from '../../util/output-paths.js';
import { exitCodeFor } from '../exit-codes.js';
import { failureJson, type Io, jsonOut, type ReportedFailure, reportFailure } from '../io.js';
import { examples, taskIdArgument, timeOption } from '../options.js';
import { queueFromOptions, withDownloadQueueOptions } from '../queue-options.js';
import { chainTreeFetch, withTreeFetchOptions } from '../tree-fetch.js';

/**
 * The verdict line of a chain that did not verify, by the one rule of failureOutcome: exit 1
 * (CHAIN_VERIFICATION_FAILED) when any link failed a trust check, else the code of the first failure a retry cannot
 * fix, else of the first (transient) failure; naming the failure that decides it.
 */
export function chainFailure(report: ChainReport): ReportedFailure | undefined {
  const outcome = failureOutcome(report.errors, 'CHAIN_VERIFICATION_FAILED');
  if (!outcome) return undefined;
  const failed = report.links.filter((l) => !l.ok).length;
  const d = outcome.deciding;
  const cause = rootCause(report.errors, d);
  return {
    code: outcome.code,
    exitCode: exitCodeFor(outcome.code),
    message: `${failed} of ${report.links.length} tasks failed; first: ${d.code}: ${d.message}${cause === d ? '' : `; because ${cause.code}: ${cause.message}`}`,
  };
}

/** The report file is checked before the verification: a folder, or one of the inputs, is refused at once. */
async function checkReportTarget(
  report: string,
  policy: string,
  loaded: LoadedPolicy,
  queueDir: string | undefined,
): Promise<void> {
  await assertFileTarget(report, '--report');
  if (queueDir !== undefined) {
    // the store is an input as a whole: a report inside it would replace what it holds or become part of it
    const [r, q] = await Promise.all([canonicalPath(report), canonicalPath(queueDir)]);
    if (isInside(q, r))
      throw new CotError(
        'USAGE',
        `--report (${report}) lies inside the --queue store (${queueDir}) that the verification reads: nothing was written, give a path outside it`,
        { details: { path: report, conflictsWith: queueDir } },
      );
  }
  await assertDistinctOutputs(
    [{ path: report, what: '--report' }],
    [
      { path: policy, what: '--policy' },
      // a trust file's entries are named FILE#implementation
      ...loaded.trust.files.map((f) => ({
        path: f.path.replace(/#[^/]*$/, ''),
        what: 'a key file the policy names',
      })),
    ],
  );
}

/** `cot verify`: verifyChain through the queue given, with the policy's hosts and bounds (policyQueueOptions). */
export function registerVerify(program: Command, io: Io): void {
  withTreeFetchOptions(
    withDownloadQueueOptions(
      program
        .command('verify')
        .description("verify a task's chain of trust, link by link, back to its decision task")
        .argument('<taskId>', 'the task to verify (e.g. a release or signing task)')
        .requiredOption(
          '--policy <file>',
          'policy (YAML or JSON): keys, worker types, decision worker types, bounds',
        )
        .addOption(timeOption('--at <time>', 'reference time (ISO 8601; default: now)'))
        .option('--report <file>', 'also write a self-contained HTML report')
        .option('--json', 'print the JSON report')
        .addHelpText(
          'after',
          examples(
            'cot verify T_ZwPp7sRfGObG6cL0YmoA --root-url https://tc.example.com --policy policy.yml --report report.html',
            'cot verify T_ZwPp7sRfGObG6cL0YmoA --queue ./mirror --policy policy.yml --json',
          ),
        ),
    ),
    "with --root-url and a policy tree section without dir: the hosts of the policy's trusted repositories (GitHub's raw content and API hosts for github.com), else " +
      DEFAULT_TREE_HOSTS.join(', '),
  )
    .exitOverride()
    .action(async (taskId, o) => {
      taskIdArgument(taskId);
      const at = o.at ?? io.now;
      const loaded = await loadPolicy(o.policy);
      if (o.report !== undefined) await checkReportTarget(o.report, o.policy, loaded, o.queue);
      const queue = await queueFromOptions(o, process.env, policyQueueOptions(loaded.policy));
      const showProgress = Boolean(io.isTTY) && !o.json && !process.env.CI;
      const treeFetch =
        queue instanceof DirectoryQueue ? undefined : chainTreeFetch(o, process.env, loaded.policy.tree);
      const report = await verifyChain(queue, taskId, {
        policy: loaded.policy,
        trust: loaded.trust,
        at,
        ...(treeFetch ? { treeFetch } : {}),
        ...(showProgress
          ? {
              onProgress: (p) =>
                io.stderr(
                  `\rverifying: ${p.linksVerified}/${p.links} tasks, ${(p.bytesHashed / 1e6).toFixed(1)} MB hashed`,
                ),
            }
          : {}),
      });
      if (showProgress) io.stderr('\n');
      if (o.report) await writeFileAtomic(o.report, renderChainHtml(report));
      const failure = chainFailure(report);
      if (o.json) jsonOut(io, { ...chainReportJson(report), ...failureJson(failure) });
      else io.stdout(renderChainText(report));
      if (failure) reportFailure(io, failure);
    });
}
