import { type Command, Option } from '@commander-js/extra-typings';
import { artifactsToVerify, readLinkFiles } from '../../cot/inputs.js';
import { describeSigners, presentSigner } from '../../cot/present-signer.js';
import { type ExpectedLink, type VerifiedLink, verifyLink } from '../../cot/verify.js';
import { HASH_ALGORITHMS } from '../../document/schema.js';
import { loadVerificationKeys, type VerificationKey } from '../../keys/keys.js';
import { addEd25519TrustFile, emptyTrustStore, loadKeyRepo, newKeyCache } from '../../trust/store.js';
import type { LinkTrust } from '../../trust/verify.js';
import { count, type Io, jsonOut } from '../io.js';
import {
  examples,
  integerOption,
  list,
  listOption,
  numberOption,
  parseAlgorithms,
  timeOption,
  usage,
} from '../options.js';

/** The `cot verify-link` command and its options, without its action. */
function verifyLinkCommand(program: Command) {
  return program
    .command('verify-link')
    .description(
      'verify one chain-of-trust document: signature, then the verified JSON, ids and artifact hashes',
    )
    .argument(
      '<file>',
      'chainOfTrust.json.asc (OpenPGP cleartext) or chain-of-trust.json (ed25519, with its .sig)',
    )
    .option('--sig <file>', 'detached signature (default for ed25519: <file>.sig)')
    .addOption(
      listOption('--key <file>', 'allowed public key: armored/binary OpenPGP or base64 ed25519').conflicts([
        'keyRepo',
        'ed25519Keys',
      ]),
    )
    .option(
      '--artifacts <dir>',
      're-hash every file in this folder (the folder holding public/; chain-of-trust files skipped) against the document',
    )
    .addOption(listOption('--artifact <name=path>', 're-hash PATH as artifact NAME'))
    .option('--require-all', 'every artifact the document lists must be given (with --artifacts/--artifact)')
    .option('--task-id <id>', 'expected taskId')
    .addOption(integerOption('--run-id <n>', 'expected runId'))
    .option('--worker-group <g>', 'expected workerGroup')
    .option('--worker-id <w>', 'expected workerId')
    .addOption(
      listOption(
        '--hash-algorithm <alg>',
        'accepted artifact hash algorithms, or comma-separated',
        'sha256,sha512',
      ),
    )
    .addOption(timeOption('--at <time>', 'reference time for the verification (ISO 8601; default: now)'))
    .addOption(
      timeOption(
        '--task-created <time>',
        "the task's created time from the queue (ISO 8601): earlier signatures are refused; ed25519 key windows are judged at it",
      ),
    )
    .addOption(
      numberOption(
        '--skew <seconds>',
        'allowed clock skew for future-dated signatures and --task-created',
        300,
      ),
    )
    .option('--key-repo <dir>', 'key repository (cot-gpg-keys layout); needs --worker-impl')
    .option(
      '--ed25519-keys <file>',
      'trust file, JSON or YAML: implementation -> base64 ed25519 keys (with windows); needs --worker-impl',
    )
    .addOption(
      new Option(
        '--worker-impl <name>',
        'the worker implementation the task ran on (docker-worker, generic-worker, scriptworker, ...)',
      ),
    )
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot verify-link public/chain-of-trust.json --key worker.pub --artifacts ./downloaded --task-id LnshJjNXTfeBlPNrAzyy9w',
        'cot verify-link chainOfTrust.json.asc --key-repo ./cot-gpg-keys --worker-impl scriptworker',
      ),
    )
    .exitOverride();
}

type VerifyLinkOptions = ReturnType<ReturnType<typeof verifyLinkCommand>['opts']>;

/**
 * Keys for a verification: a flat --key list, or a trust store (--key-repo / --ed25519-keys) with --worker-impl
 * (--key with a trust store: commander refuses the command line).
 */
async function keySource(o: VerifyLinkOptions): Promise<{ keys: VerificationKey[] } | { trust: LinkTrust }> {
  if (o.keyRepo !== undefined || o.ed25519Keys !== undefined) {
    if (o.workerImpl === undefined) throw usage('--key-repo and --ed25519-keys need --worker-impl');
    const cache = newKeyCache();
    const store = o.keyRepo !== undefined ? await loadKeyRepo(o.keyRepo, { cache }) : emptyTrustStore();
    if (o.ed25519Keys !== undefined) await addEd25519TrustFile(store, o.ed25519Keys, cache);
    return { trust: { store, implementation: o.workerImpl } };
  }
  if (o.workerImpl !== undefined) throw usage('--worker-impl needs --key-repo or --ed25519-keys');
  const keys = list(o.key);
  if (keys.length === 0)
    throw usage('give at least one --key, or --key-repo/--ed25519-keys with --worker-impl');
  return { keys: await loadVerificationKeys(keys) };
}

function expectedLink(o: VerifyLinkOptions): ExpectedLink {
  return {
    ...(o.taskId === undefined ? {} : { taskId: o.taskId }),
    ...(o.runId === undefined ? {} : { runId: o.runId }),
    ...(o.workerGroup === undefined ? {} : { workerGroup: o.workerGroup }),
    ...(o.workerId === undefined ? {} : { workerId: o.workerId }),
  };
}

/** `cot verify-link`: verifyLink on a document, its signature (readLinkFiles) and the artifacts given. */
export function registerVerifyLink(program: Command, io: Io): void {
  verifyLinkCommand(program).action(async (file, o) => {
    const at = o.at ?? io.now;
    const keys = await keySource(o);
    const { data, signature } = await readLinkFiles(file, o.sig);
    const { sources: artifacts, skipped } = await artifactsToVerify(o.artifacts, list(o.artifact));
    const algorithms = list(o.hashAlgorithm);
    const r = await verifyLink({
      data,
      ...(signature === undefined ? {} : { signature }),
      ...keys,
      at,
      ...(o.taskCreated === undefined ? {} : { taskCreated: o.taskCreated }),
      skewSeconds: o.skew,
      expected: expectedLink(o),
      artifacts,
      requireAllArtifacts: Boolean(o.requireAll),
      hashAlgorithms: algorithms.length > 0 ? parseAlgorithms(algorithms) : HASH_ALGORITHMS,
      source: file,
    });
    if (o.json) jsonOut(io, verifyLinkJson(file, r, skipped, at, o.taskCreated));
    else
      io.stdout(
        `verified: task ${r.document.taskId} run ${r.document.runId} (${r.signatureKind}${r.implementation ? `, ${r.implementation}` : ''}) signed by ${describeSigners(r.signers, at)}; ${count(r.artifacts.length, 'artifact')} checked, ${r.unchecked.length} listed but not checked${
          skipped.length > 0 ? ` (chain-of-trust files skipped: ${skipped.join(', ')})` : ''
        }\n`,
      );
  });
}

/** The --json result of verify-link: schemas/verify-link.schema.json. */
function verifyLinkJson(
  file: string,
  r: VerifiedLink,
  skipped: string[],
  at: Date,
  taskCreated: Date | undefined,
): Record<string, unknown> {
  return {
    ok: true,
    file,
    signatureKind: r.signatureKind,
    workerImplementation: r.implementation ?? null,
    taskId: r.document.taskId,
    runId: r.document.runId,
    workerGroup: r.document.workerGroup,
    workerId: r.document.workerId,
    workerType: r.document.workerType ?? null,
    signers: r.signers.map((s) => presentSigner(s, at).json),
    artifactsChecked: r.artifacts,
    artifactsNotChecked: r.unchecked,
    skipped,
    referenceTime: at.toISOString(),
    taskCreated: taskCreated?.toISOString() ?? null,
  };
}
