import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { signStatement } from '../../attest/sign.js';
import { buildProvenance, type SourceTrace, sourceOf } from '../../attest/statement.js';
import { chainReportJson, renderChainText } from '../../chain/report.js';
import { CotError, fsError } from '../../errors.js';
import { assertFileTarget } from '../../util/output-paths.js';
import {
  type AttestationKey,
  attestationRootUrl,
  bundlePathFor,
  ENVELOPE_SUFFIX,
  writeAttestation,
} from '../attest-io.js';
import { failureJson, type Io, jsonOut, reportFailure } from '../io.js';
import { examples, timeOption } from '../options.js';
import { withDownloadQueueOptions } from '../queue-options.js';
import { withTreeFetchOptions } from '../tree-fetch.js';
import {
  assertOutsideStore,
  chainFailure,
  prepareAttestation,
  runChainVerification,
  TREE_HOSTS_HELP,
} from './verify.js';

/**
 * `--out DIR`: a folder or nothing yet (made once the chain verified); FILE_NOT_DIRECTORY for anything else, and
 * FILE_IS_DIRECTORY when a file the provenance is written to is a folder there.
 */
async function checkOutFolder(dir: string, envelope: string): Promise<void> {
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw fsError(e, dir, 'cannot use --out');
  });
  if (st && !st.isDirectory())
    throw new CotError(
      'FILE_NOT_DIRECTORY',
      `--out ${dir} is not a folder: give the folder to write the provenance in`,
      {
        details: { path: dir },
      },
    );
  if (st)
    for (const path of [envelope, bundlePathFor(envelope)])
      await assertFileTarget(path, `--out ${dir}:`, { fixedName: true });
}

function describeSource(s: SourceTrace): string {
  return s.traced
    ? `${s.repository}@${s.revision} (${s.tasksFor}, rebuilt ${s.parentTaskId})`
    : `not traced: ${s.reason}`;
}

/** `cot attest provenance`: verifyChain, then buildProvenance of its root task, signed with the verifier's key. */
function registerAttestProvenance(attest: Command, io: Io): void {
  withTreeFetchOptions(
    withDownloadQueueOptions(
      attest
        .command('provenance')
        .description(
          "verify a task's chain of trust and, only if it verifies, write SLSA provenance of the task's artifacts, signed by the verifier",
        )
        .argument('<taskId>', 'the task whose artifacts the provenance is about')
        .requiredOption('--policy <file>', 'policy (YAML or JSON), as for cot verify')
        .requiredOption(
          '--key <file>',
          "the verifier's ed25519 private key that signs the provenance (never a worker key)",
        )
        .requiredOption(
          '--out <dir>',
          'folder to write <taskId>.provenance.intoto.json and <taskId>.provenance.sigstore.json in',
        )
        .addOption(timeOption('--at <time>', 'reference time (ISO 8601; default: now)'))
        .option(
          '--allow-insecure-key-permissions',
          'use a private key file readable by others (not recommended)',
        )
        .option('--json', 'print a JSON result (the chain report, and the files written)')
        .addHelpText(
          'after',
          examples(
            'cot attest provenance T_ZwPp7sRfGObG6cL0YmoA --queue ./mirror --policy policy.yml --key verifier.key --out attestations',
          ),
        ),
    ),
    TREE_HOSTS_HELP,
  )
    .exitOverride()
    .action(async (taskId, o) => {
      const name = `${taskId}.provenance${ENVELOPE_SUFFIX}`;
      let key: AttestationKey | undefined;
      const { report } = await runChainVerification(taskId, o, io, async (loaded) => {
        await checkOutFolder(o.out, join(o.out, name));
        await assertOutsideStore(o.out, '--out', o.queue);
        key = await prepareAttestation(
          { path: join(o.out, name), what: 'the provenance' },
          { path: o.key, what: '--key' },
          o,
          loaded,
        );
      });
      const failure = chainFailure(report);
      if (failure) {
        // no provenance for a chain that did not verify: nothing is written, not even the folder
        if (o.json) jsonOut(io, { ...chainReportJson(report), ...failureJson(failure) });
        else io.stdout(renderChainText(report));
        reportFailure(io, { ...failure, message: `${failure.message}; no provenance written` });
        return;
      }
      const rootUrl = attestationRootUrl(o, process.env);
      const statement = buildProvenance(report, rootUrl ? { rootUrl } : {});
      const signed = signStatement(statement, key!.privateKey);
      await mkdir(o.out, { recursive: true }).catch((e: unknown) => {
        throw fsError(e, o.out, 'cannot make --out');
      });
      const [envelope, bundle] = await writeAttestation(join(o.out, name), signed);
      const source = sourceOf(report);
      if (o.json)
        jsonOut(io, {
          ...chainReportJson(report),
          attestation: {
            envelope,
            bundle,
            keyId: signed.keyId,
            predicateType: statement.predicateType,
            subjects: statement.subject.length,
            source,
          },
        });
      else
        io.stdout(
          `${renderChainText(report)}provenance of task ${taskId}: ${statement.subject.length} subject${statement.subject.length === 1 ? '' : 's'}, source ${describeSource(source)}\nwritten: ${envelope}, ${bundle} (key ${signed.keyId})\n`,
        );
    });
}

/** `cot attest ...`: in-toto attestations of verified chains. */
export function registerAttest(program: Command, io: Io): void {
  const attest = program
    .command('attest')
    .description('write in-toto attestations (SLSA provenance) of verified chains, signed by the verifier')
    .addHelpText(
      'after',
      examples(
        'cot attest provenance T_ZwPp7sRfGObG6cL0YmoA --queue ./mirror --policy policy.yml --key verifier.key --out attestations',
      ),
    )
    .exitOverride();
  registerAttestProvenance(attest, io);
}
