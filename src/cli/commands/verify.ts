import type { Command } from '@commander-js/extra-typings';
import { signStatement } from '../../attest/sign.js';
import { buildVerificationSummary } from '../../attest/statement.js';
import { renderChainHtml } from '../../chain/html.js';
import { type LoadedPolicy, loadPolicy } from '../../chain/policy.js';
import { policyQueueOptions } from '../../chain/queue-options.js';
import { chainReportJson, renderChainText, rootCause } from '../../chain/report.js';
import { type ChainReport, verifyChain } from '../../chain/verify-chain.js';
import { CotError } from '../../errors.js';
import { failureOutcome } from '../../failures.js';
import { DirectoryQueue } from '../../transport/dir-store.js';
import { DEFAULT_TREE_HOSTS } from '../../tree/online.js';
import { keyFileOf } from '../../trust/store.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { isInside } from '../../util/fs-paths.js';
import {
  assertDistinctOutputs,
  assertFileTarget,
  canonicalPath,
  type NamedPath,
} from '../../util/output-paths.js';
import { escapeControls } from '../../util/terminal.js';
import {
  type AttestationKey,
  attestationRootUrl,
  bundlePathFor,
  checkEnvelopePath,
  loadAttestationKey,
  summaryPolicy,
  writeAttestation,
} from '../attest-io.js';
import { exitCodeFor } from '../exit-codes.js';
import { failureJson, type Io, jsonOut, type ReportedFailure, reportFailure } from '../io.js';
import { examples, taskIdArgument, timeOption } from '../options.js';
import { queueFromOptions, withDownloadQueueOptions } from '../queue-options.js';
import { chainTreeFetch, withTreeFetchOptions } from '../tree-fetch.js';
import { VERSION } from '../version.js';

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
/**
 * USAGE when an output (`what`, at `path`) lies inside the --queue store the verification reads: the store is an
 * input as a whole, and an output inside it would replace what it holds or become part of it.
 */
export async function assertOutsideStore(
  path: string,
  what: string,
  queueDir: string | undefined,
): Promise<void> {
  if (queueDir === undefined) return;
  const [p, q] = await Promise.all([canonicalPath(path), canonicalPath(queueDir)]);
  if (isInside(q, p))
    throw new CotError(
      'USAGE',
      `${what} (${path}) lies inside the --queue store (${queueDir}) that the verification reads: nothing was written, give a path outside it`,
      { details: { path, conflictsWith: queueDir } },
    );
}

async function checkReportTarget(
  report: string,
  policy: string,
  loaded: LoadedPolicy,
  queueDir: string | undefined,
): Promise<void> {
  await assertFileTarget(report, '--report');
  await assertOutsideStore(report, '--report', queueDir);
  await assertDistinctOutputs([{ path: report, what: '--report' }], policyInputs(policy, loaded));
}

/** The options of `cot verify` that runChainVerification reads (attest provenance has the same). */
interface ChainCommandOptions {
  policy: string;
  at?: Date;
  json?: boolean;
  queue?: string;
  rootUrl?: string;
}

/**
 * Load the policy, open the queue and verify the chain of `taskId` as `cot verify` does, with a progress line on a
 * terminal. `prepare` runs once the policy is loaded and before anything is read from the queue (output checks,
 * loading a signing key), so bad input is refused before any work.
 */
export async function runChainVerification(
  taskId: string,
  // the queue and tree-fetch options commander parsed (queueFromOptions, chainTreeFetch read them)
  o: ChainCommandOptions & Parameters<typeof queueFromOptions>[0] & Parameters<typeof chainTreeFetch>[0],
  io: Io,
  prepare?: (loaded: LoadedPolicy) => Promise<void>,
): Promise<{ report: ChainReport; loaded: LoadedPolicy }> {
  taskIdArgument(taskId);
  const at = o.at ?? io.now;
  const loaded = await loadPolicy(o.policy);
  await prepare?.(loaded);
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
  return { report, loaded };
}

/** The help of the tree-fetch options of commands that verify a chain. */
export const TREE_HOSTS_HELP =
  "with --root-url and a policy tree section without dir: the hosts of the policy's trusted repositories (GitHub's raw content and API hosts for github.com), else " +
  DEFAULT_TREE_HOSTS.join(', ');

/** The key files a policy names (a trust file's entries are named FILE#implementation: keyFileOf), as inputs. */
export function policyInputs(policy: string, loaded: LoadedPolicy): NamedPath[] {
  return [
    { path: policy, what: '--policy' },
    ...loaded.trust.files.map((f) => ({
      path: keyFileOf(f),
      what: 'a key file the policy names',
    })),
  ];
}

/**
 * `--attest FILE --attest-key KEY`: checked before the verification (both or neither, FILE named
 * <name>.intoto.json and a file path, distinct from every input and output, the key loadable and no worker key).
 */
async function prepareSummary(
  o: {
    attest?: string;
    attestKey?: string;
    report?: string;
    policy: string;
    queue?: string;
    allowInsecureKeyPermissions?: boolean;
  },
  loaded: LoadedPolicy,
): Promise<AttestationKey | undefined> {
  if (o.attest === undefined && o.attestKey === undefined) return undefined;
  if (o.attest === undefined || o.attestKey === undefined)
    throw new CotError(
      'USAGE',
      `--attest and --attest-key go together: give ${o.attest === undefined ? '--attest <file>' : '--attest-key <file>'} too`,
    );
  checkEnvelopePath(o.attest, '--attest');
  await assertFileTarget(o.attest, '--attest');
  await assertOutsideStore(o.attest, '--attest', o.queue);
  await assertFileTarget(bundlePathFor(o.attest), 'the Sigstore bundle of --attest', { fixedName: true });
  return prepareAttestation(
    { path: o.attest, what: '--attest' },
    { path: o.attestKey, what: '--attest-key' },
    o,
    loaded,
    o.report !== undefined ? [{ path: o.report, what: '--report' }] : [],
  );
}

/**
 * What `verify --attest` and `attest provenance` check before the verification, for an attestation's envelope and
 * the Sigstore bundle beside it: neither is another output or an input (the policy, its key files, the signing
 * key: assertDistinctOutputs), then the signing key is loaded (loadAttestationKey: no worker key).
 */
export async function prepareAttestation(
  envelope: NamedPath,
  key: NamedPath,
  o: { policy: string; allowInsecureKeyPermissions?: boolean },
  loaded: LoadedPolicy,
  otherOutputs: NamedPath[] = [],
): Promise<AttestationKey> {
  await assertDistinctOutputs(
    [
      envelope,
      { path: bundlePathFor(envelope.path), what: `the Sigstore bundle of ${envelope.what}` },
      ...otherOutputs,
    ],
    [...policyInputs(o.policy, loaded), key],
  );
  return loadAttestationKey(key.path, loaded, {
    allowInsecureKeyPermissions: Boolean(o.allowInsecureKeyPermissions),
  });
}

/**
 * Write the verification summary of `report` (PASSED or FAILED). Throws ATTEST_NO_SUBJECT when there is nothing to
 * name as its subject, and what writing throws (the caller reports it after the chain's report).
 */
async function writeSummary(
  report: ChainReport,
  loaded: LoadedPolicy,
  key: AttestationKey,
  path: string,
  rootUrl: string | undefined,
  options: Parameters<typeof summaryPolicy>[1],
): Promise<Record<string, unknown> | undefined> {
  const statement = buildVerificationSummary(report, {
    verifier: { version: { cot: VERSION } },
    policy: summaryPolicy(loaded, options),
    ...(rootUrl ? { rootUrl } : {}),
    rootDocumentWaived: !loaded.policy.verifyRootTask,
  });
  const signed = signStatement(statement, key.privateKey);
  const [envelope, bundle] = await writeAttestation(path, signed);
  return {
    envelope,
    bundle,
    keyId: signed.keyId,
    verificationResult: statement.predicate.verificationResult,
  };
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
        .option(
          '--attest <file>',
          'also write a SLSA verification summary (PASSED or FAILED), signed with --attest-key: the DSSE envelope <name>.intoto.json, and the Sigstore bundle <name>.sigstore.json beside it',
        )
        .option(
          '--attest-key <file>',
          "the verifier's ed25519 private key that signs --attest (never a worker key)",
        )
        .option(
          '--allow-insecure-key-permissions',
          'with --attest-key: use a private key file readable by others (not recommended)',
        )
        .option('--json', 'print the JSON report')
        .addHelpText(
          'after',
          examples(
            'cot verify T_ZwPp7sRfGObG6cL0YmoA --root-url https://tc.example.com --policy policy.yml --report report.html',
            'cot verify T_ZwPp7sRfGObG6cL0YmoA --queue ./mirror --policy policy.yml --json',
            'cot verify T_ZwPp7sRfGObG6cL0YmoA --queue ./mirror --policy policy.yml --attest vsa.intoto.json --attest-key verifier.key',
          ),
        ),
    ),
    TREE_HOSTS_HELP,
  )
    .exitOverride()
    .action(async (taskId, o) => {
      let attestKey: AttestationKey | undefined;
      const { report, loaded } = await runChainVerification(taskId, o, io, async (loaded) => {
        if (o.report !== undefined) await checkReportTarget(o.report, o.policy, loaded, o.queue);
        attestKey = await prepareSummary(o, loaded);
      });
      if (o.report) await writeFileAtomic(o.report, renderChainHtml(report));
      const failure = chainFailure(report);
      // a summary that cannot be made or written is reported after the chain's own report, never instead of it
      let attestError: ReportedFailure | undefined;
      let attestation: Record<string, unknown> | undefined;
      if (attestKey && o.attest) {
        if (failure && failure.code !== 'CHAIN_VERIFICATION_FAILED')
          // the chain could not be checked (a network failure, a missing task...): a summary says PASSED or
          // FAILED, and this is neither
          attestError = {
            ...failure,
            message: `no verification summary written: the chain could not be verified (${failure.code}), which is neither PASSED nor FAILED`,
          };
        else
          attestation = await writeSummary(
            report,
            loaded,
            attestKey,
            o.attest,
            attestationRootUrl(o, process.env),
            o,
          ).catch((e: unknown) => {
            if (!(e instanceof CotError)) throw e;
            attestError = {
              code: e.code,
              exitCode: exitCodeFor(e.code),
              message: `no verification summary written: ${e.message}`,
            };
            return undefined;
          });
      }
      // a chain that verified but whose summary failed exits non-zero: its JSON says ok false and why, as the exit
      const deciding = failure ?? attestError;
      if (o.json)
        jsonOut(io, {
          ...chainReportJson(report),
          ...(deciding ? { ok: false } : {}),
          ...(attestation ? { attestation } : {}),
          ...(attestError
            ? { attestationError: { code: attestError.code, message: attestError.message } }
            : {}),
          ...failureJson(deciding),
        });
      else {
        io.stdout(renderChainText(report));
        if (attestation)
          io.stdout(
            `verification summary (${String(attestation.verificationResult)}): ${String(attestation.envelope)}, ${String(attestation.bundle)} (key ${String(attestation.keyId)})\n`,
          );
      }
      if (failure) reportFailure(io, failure);
      // the chain's failure decides the exit code; a summary's own failure only when the chain verified
      if (attestError) {
        if (failure) io.stderr(`cot: ${attestError.code}: ${escapeControls(attestError.message)}\n`);
        else reportFailure(io, attestError);
      }
    });
}
