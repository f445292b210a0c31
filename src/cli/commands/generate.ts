import { join } from 'node:path';
import { type Command, Option } from '@commander-js/extra-typings';
import { readInputFile, signatureFormatFor } from '../../cot/inputs.js';
import { CotError } from '../../errors.js';
import { parseArtifactPair } from '../../hashing/artifacts.js';
import { type JsonObject, parseJsonBytes } from '../../json/parse.js';
import { loadSigningKey, type SigningKey } from '../../keys/keys.js';
import { guardKey } from '../../trust/guard.js';
import { escapeControls } from '../../util/terminal.js';
import { type WorkerChainOfTrustResult, workerChainOfTrust } from '../../worker/worker.js';
import { count, type Io, jsonOut } from '../io.js';
import {
  examples,
  integerOption,
  list,
  listOption,
  numberOption,
  parseAlgorithms,
  requiredListOption,
  usage,
} from '../options.js';
import { queueFromOptions } from '../queue-options.js';

/** The `cot generate` command and its options, without its action. */
function generateCommand(program: Command) {
  return program
    .command('generate')
    .description('hash the artifacts, build the chain-of-trust document, sign it and write it atomically')
    .requiredOption('--task <file>', 'task definition (JSON) as the queue serves it')
    .requiredOption('--task-id <id>', 'task id')
    .addOption(integerOption('--run-id <n>', 'run id').makeOptionMandatory())
    .requiredOption('--worker-group <g>', 'worker group')
    .requiredOption('--worker-id <w>', 'worker id')
    .option('--worker-type <t>', "worker type (a warning when it differs from the task's workerType)")
    .option('--artifacts <dir>', 'folder of artifacts (recursive; names are POSIX paths relative to it)')
    .addOption(listOption('--artifact <name=path>', 'an artifact named NAME with the bytes of PATH'))
    .option('--environment <file>', 'environment object (JSON)')
    .addOption(
      requiredListOption(
        '--key <file>',
        'private key: OpenPGP (armored) or ed25519 (base64); twice for --format both',
      ),
    )
    .addOption(
      new Option('--format <format>', 'signature format (default: from the keys given)').choices([
        'openpgp',
        'ed25519',
        'both',
      ]),
    )
    .option('--out <dir>', 'output folder (default: <artifacts>/public)')
    .addOption(listOption('--hash-algorithm <alg>', 'sha256 and/or sha512, or comma-separated', 'sha256'))
    .addOption(numberOption('--concurrency <n>', 'files hashed at once', 8))
    .option('--allow-insecure-key-permissions', 'use a private key file readable by others (not recommended)')
    .option(
      '--task-user <user>',
      'refuse to sign unless this user (the one tasks run as) provably cannot read the keys',
    )
    .option(
      '--certified-log <log>',
      'the task log: copied to <out>/logs/certified.log and listed as public/logs/certified.log',
    )
    .option(
      '--task-dir <dir>',
      'task folder: its chain-of-trust-additional-data.json is merged under the worker values, and every --artifact must lie inside it (or --artifacts, or an --artifact-root)',
    )
    .addOption(
      listOption(
        '--artifact-root <dir>',
        'every --artifact must lie inside one of these folders (or --artifacts, or --task-dir)',
      ),
    )
    .addOption(
      new Option('--environment-from <source>', 'environment: static (--environment) or cloud metadata')
        .choices(['static', 'ec2', 'gcp'])
        .default('static'),
    )
    .option(
      '--metadata-endpoint <url>',
      'metadata server for --environment-from ec2/gcp (default: the cloud link-local address)',
    )
    .option('--upload', 'then upload the artifacts and the chain-of-trust files (with --queue or --root-url)')
    .addOption(new Option('--queue <dir>', 'with --upload: a directory store').conflicts('rootUrl'))
    .option('--root-url <url>', 'with --upload: a Taskcluster deployment or `cot queue serve`')
    .addOption(
      new Option('--storage-type <type>', 'with --upload: artifact storage type')
        .choices(['s3', 'object'])
        .default('s3'),
    )
    .option(
      '--staging-dir <dir>',
      'with --upload: where the private copies uploaded are made (default: the system temp folder)',
    )
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot generate --task task.json --task-id LnshJjNXTfeBlPNrAzyy9w --run-id 0 --worker-group us-east-1 \\',
        '  --worker-id i-0abc --worker-type b-linux --artifacts ./artifacts --key worker.key',
      ),
    )
    .exitOverride();
}

type GenerateOptions = ReturnType<ReturnType<typeof generateCommand>['opts']>;

/** `cot generate`: workerChainOfTrust with the keys, artifacts and task given. */
export function registerGenerate(program: Command, io: Io): void {
  generateCommand(program).action((o) => runGenerate(io, o));
}

/** A JSON object from a file (a task definition, an environment): JSON_INVALID when the file holds another value. */
async function readJsonObject(path: string, what: string): Promise<JsonObject> {
  const v = parseJsonBytes(await readInputFile(path, what), {
    source: `${what} ${path}`,
    exactNumbers: true,
  });
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new CotError('JSON_INVALID', `${what} ${path} must hold a JSON object`);
  }
  return v;
}

/** The signing keys, each checked unreadable by the task user first when --task-user is given. */
async function signingKeys(o: GenerateOptions): Promise<SigningKey[]> {
  const keys: SigningKey[] = [];
  for (const k of o.key) {
    if (o.taskUser !== undefined) await guardKey(k, { taskUser: o.taskUser });
    keys.push(
      await loadSigningKey(k, { allowInsecureKeyPermissions: Boolean(o.allowInsecureKeyPermissions) }),
    );
  }
  return keys;
}

async function runGenerate(io: Io, o: GenerateOptions): Promise<void> {
  if (!o.upload && (o.queue !== undefined || o.rootUrl !== undefined || o.stagingDir !== undefined))
    throw usage('--queue / --root-url / --staging-dir apply with --upload');
  const artifactPairs = list(o.artifact);
  if (o.artifacts === undefined && artifactPairs.length === 0 && o.certifiedLog === undefined)
    throw usage('give --artifacts DIR or --artifact NAME=PATH');
  const out = o.out ?? (o.artifacts !== undefined ? join(o.artifacts, 'public') : undefined);
  if (out === undefined) throw usage('give --out DIR when artifacts are given only with --artifact');
  const keys = await signingKeys(o);
  const format = o.format ?? signatureFormatFor(keys);
  const task = await readJsonObject(o.task, 'task definition');
  const environment =
    o.environment === undefined ? undefined : await readJsonObject(o.environment, 'environment');
  const roots = list(o.artifactRoot);
  const r = await workerChainOfTrust({
    environmentFrom: o.environmentFrom,
    ...(o.metadataEndpoint === undefined ? {} : { metadataEndpoint: o.metadataEndpoint }),
    ...(o.taskDir === undefined ? {} : { taskDir: o.taskDir }),
    ...(roots.length === 0 ? {} : { artifactRoots: roots }),
    ...(o.certifiedLog === undefined ? {} : { certifiedLog: o.certifiedLog }),
    ...(o.upload
      ? {
          upload: {
            queue: await queueFromOptions(o, process.env),
            storageType: o.storageType,
            ...(o.stagingDir === undefined ? {} : { stagingDir: o.stagingDir }),
          },
        }
      : {}),
    task,
    taskId: o.taskId,
    runId: o.runId,
    workerGroup: o.workerGroup,
    workerId: o.workerId,
    ...(o.workerType === undefined ? {} : { workerType: o.workerType }),
    ...(environment === undefined ? {} : { environment }),
    ...(o.artifacts === undefined ? {} : { artifactDir: o.artifacts }),
    artifacts: artifactPairs.map(parseArtifactPair),
    keys,
    format,
    outDir: out,
    inputFiles: [
      { path: o.task, what: '--task' },
      ...(o.environment === undefined ? [] : [{ path: o.environment, what: '--environment' }]),
    ],
    now: io.now,
    hashAlgorithms: parseAlgorithms(list(o.hashAlgorithm)),
    concurrency: Math.max(1, o.concurrency),
  });
  printGenerate(io, r, format, Boolean(o.json));
}

function printGenerate(io: Io, r: WorkerChainOfTrustResult, format: string, json: boolean): void {
  if (json) {
    jsonOut(io, {
      ok: true,
      uploaded: r.uploaded.map((u) => u.name),
      taskId: r.document.taskId,
      runId: r.document.runId,
      format,
      artifacts: r.artifacts.length,
      bytesHashed: r.artifacts.reduce((n, a) => n + a.size, 0),
      files: r.files,
      signers: r.signers,
      environment: r.environment,
      additionalData: r.additionalData,
      warnings: r.warnings,
    });
    return;
  }
  for (const f of r.files) io.stdout(`wrote ${f.artifact} -> ${f.path} (${f.size} bytes)\n`);
  io.stdout(
    `task ${r.document.taskId} run ${r.document.runId}: ${count(r.artifacts.length, 'artifact')} hashed, signed by ${r.signers.join(' and ')}\n`,
  );
  if (r.uploaded.length > 0) io.stdout(`uploaded ${count(r.uploaded.length, 'artifact')} to the queue\n`);
  for (const w of r.warnings) io.stderr(`cot: warning: ${escapeControls(w.message)}\n`);
}
