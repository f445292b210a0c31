import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import {
  type ArtifactSource,
  addEd25519TrustFile,
  type ChainReport,
  CotError,
  canonicalize,
  certifyKeyFile,
  chainReportJson,
  checkKeyRepo,
  DEFAULT_DEADLINE_MS,
  DEFAULT_MIN_BYTES_PER_SECOND,
  DirectoryQueue,
  type ErrorCode,
  EXIT,
  type ExpectedLink,
  emptyTrustStore,
  enumerateArtifactDir,
  exitCodeFor,
  failureOutcome,
  fetchChain,
  fsError,
  generateKeyPair,
  guardKey,
  HASH_ALGORITHMS,
  type HashAlgorithm,
  hashArtifacts,
  isChainOfTrustFile,
  isCotError,
  JSON_SCHEMA_VERSION,
  type JsonObject,
  type LinkTrust,
  listKeys,
  loadKeyRepo,
  loadPolicy,
  loadSigningKey,
  loadVerificationKeys,
  newKeyCache,
  notAFile,
  parseArtifactPair,
  parseJsonBytes,
  RESERVED_ARTIFACT_NAMES,
  renderChainHtml,
  renderChainText,
  runDemo,
  type SignatureFormat,
  type Signer,
  SLUGID_PATTERN,
  startQueueServer,
  TaskclusterQueue,
  type TaskQueue,
  toArtifactDigests,
  uploadArtifacts,
  type VerificationKey,
  verifyChain,
  verifyLink,
  verifyRepoTag,
  verifySignature,
  workerChainOfTrust,
} from '../index.js';
import { writeFileAtomic } from '../util/atomic.js';
import { assertDistinctOutputs, assertFileTarget, assertSeparateFolders } from '../util/output-paths.js';
import { escapeControls, terminalSafe } from '../util/terminal.js';
import { VERSION } from './version.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** the reference time of this run (captured once) */
  now: Date;
  /** set by a command that reported its own failure (e.g. a chain that did not verify) */
  exitCode?: number;
  /** stderr is a terminal (progress display allowed) */
  isTTY?: boolean;
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

/**
 * Options that may be given several times. They have no commander default (help would print `(default: [])`):
 * the program's preAction hook sets them to [] when absent, so actions always see a list.
 */
const LIST_OPTIONS = new WeakSet<Option>();

function listOption(flags: string, description: string, shownDefault?: string): Option {
  const note = shownDefault === undefined ? 'repeatable' : `repeatable; default: ${shownDefault}`;
  const o = new Option(flags, `${description} (${note})`).argParser(collect);
  LIST_OPTIONS.add(o);
  return o;
}

/** A required repeatable option: commander refuses the command line without it. */
function requiredListOption(flags: string, description: string): Option {
  return listOption(flags, description).makeOptionMandatory();
}

/**
 * An option whose value is a number, with its default shown as one (`(default: 60)`, not `(default: "60")`); the
 * value stays the command-line string, parsed by the action.
 */
function numberOption(flags: string, description: string, value: number, shown = String(value)): Option {
  return new Option(flags, description).default(String(value), shown);
}

/** The help section of required options (commander's help groups): a run without one is refused. */
const REQUIRED_GROUP = 'Required options:';

/** `Example:` lines after a command's help, as the README shows it (a line starting with a space continues one). */
function examples(...lines: string[]): string {
  const count = lines.filter((l) => !l.startsWith(' ')).length;
  return `\n${count > 1 ? 'Examples' : 'Example'}:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

function usage(message: string): CotError {
  return new CotError('USAGE', message);
}

function parseNonNegativeInt(v: string, what: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw usage(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function parsePositiveInt(v: string, what: string): number {
  const n = parseNonNegativeInt(v, what);
  if (n === 0) throw usage(`${what} must be a positive integer, got 0`);
  return n;
}

function parseAlgorithms(values: string[]): HashAlgorithm[] {
  const out = new Set<HashAlgorithm>();
  for (const v of values.flatMap((x) => x.split(','))) {
    const a = v.trim().toLowerCase();
    if (!(HASH_ALGORITHMS as string[]).includes(a)) {
      throw usage(
        `unsupported hash algorithm ${JSON.stringify(v)} (choose from ${HASH_ALGORITHMS.join(', ')})`,
      );
    }
    out.add(a as HashAlgorithm);
  }
  return out.size > 0 ? [...out] : ['sha256'];
}

function parseTime(v: string | undefined, fallback: Date, option = '--at'): Date {
  if (v === undefined) return fallback;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw usage(`${option} expects an ISO 8601 time, got ${JSON.stringify(v)}`);
  return d;
}

const TASK_ID = new RegExp(SLUGID_PATTERN);

/** A task id given on the command line: a malformed one is a usage error (exit 2), never a task "not found". */
function taskIdArgument(v: string, what = 'the task id'): string {
  if (!TASK_ID.test(v))
    throw usage(`${what} ${JSON.stringify(v)} is not a Taskcluster task id (a 22-character slugid)`);
  return v;
}

/**
 * The verdict line of a chain that did not verify, by the one rule of failureOutcome: exit 1
 * (CHAIN_VERIFICATION_FAILED) when any link failed a trust check, else the code of the first failure a retry cannot
 * fix, else of the first (transient) failure; naming the failure that decides it.
 */
function chainFailure(
  report: ChainReport,
): { code: ErrorCode; exitCode: number; message: string } | undefined {
  const outcome = failureOutcome(report.errors, 'CHAIN_VERIFICATION_FAILED');
  if (!outcome) return undefined;
  const failed = report.links.filter((l) => !l.ok).length;
  const d = outcome.deciding;
  return {
    code: outcome.code,
    exitCode: outcome.exitCode,
    message: `${failed} of ${report.links.length} tasks failed; first: ${d.code}: ${d.message}`,
  };
}

/** Largest input file read whole (documents, signatures, task definitions); artifacts are streamed instead. */
const MAX_INPUT_BYTES = 64 * 1024 * 1024;

async function readInput(path: string, what: string): Promise<Buffer> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw notAFile(path, what, st);
    if (st.size > MAX_INPUT_BYTES) {
      throw new CotError(
        'FILE_UNREADABLE',
        `${what} ${path} is ${st.size} bytes, over the ${MAX_INPUT_BYTES}-byte limit`,
      );
    }
    return await readFile(path);
  } catch (e) {
    throw fsError(e, path, `cannot read ${what}`);
  }
}

async function readJsonObject(path: string, what: string, exactNumbers: boolean): Promise<JsonObject> {
  const bytes = await readInput(path, what);
  const v = parseJsonBytes(bytes, { source: `${what} ${path}`, exactNumbers });
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new CotError('JSON_INVALID', `${what} ${path} must hold a JSON object`);
  }
  return v;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export function describeSigner(s: Signer, at: Date): string {
  if (s.kind === 'ed25519') return `ed25519 key ${s.publicKey} (${s.keySource})`;
  const uid = s.userIds[0] ? ` ${s.userIds[0]}` : '';
  const cert = s.certifiedBy
    ? `, certified by trusted root ${s.certifiedBy.fingerprint}${s.certifiedBy.userIds[0] ? ` ${s.certifiedBy.userIds[0]}` : ''} on ${s.certifiedBy.certifiedAt.toISOString()}`
    : '';
  const expired =
    s.keyExpires && s.keyExpires.getTime() < at.getTime()
      ? `; key expired since ${s.keyExpires.toISOString()}`
      : '';
  return `OpenPGP key ${s.fingerprint}${uid}${cert}, signed ${s.signedAt.toISOString()} with ${s.hashAlgorithm}${expired}`;
}

function signerJson(s: Signer, at: Date): Record<string, unknown> {
  if (s.kind === 'ed25519') return { kind: s.kind, publicKey: s.publicKey, keySource: s.keySource };
  return {
    kind: s.kind,
    fingerprint: s.fingerprint,
    signingKeyFingerprint: s.signingKeyFingerprint,
    userIds: s.userIds,
    signedAt: s.signedAt.toISOString(),
    hashAlgorithm: s.hashAlgorithm,
    keyExpires: s.keyExpires ? s.keyExpires.toISOString() : null,
    keyExpiredAtReferenceTime: s.keyExpires ? s.keyExpires.getTime() < at.getTime() : false,
    certifiedBy: s.certifiedBy
      ? {
          fingerprint: s.certifiedBy.fingerprint,
          userIds: s.certifiedBy.userIds,
          certifiedAt: s.certifiedBy.certifiedAt.toISOString(),
        }
      : null,
  };
}

/** A path as a shell command shows it: relative to the working folder when inside it, quoted when it must be. */
function shellPath(p: string): string {
  const rel = relative(process.cwd(), p);
  const shown = rel === '' ? '.' : isAbsolute(rel) || rel.split(sep)[0] === '..' ? p : rel;
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(shown) ? shown : `'${shown.replaceAll("'", "'\\''")}'`;
}

/** Every --json output: `schemaVersion` first (its shape: schemas/<command>.schema.json), then the command's members. */
function jsonOut(io: Io, value: Record<string, unknown>): void {
  io.stdout(`${JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...value }, null, 2)}\n`);
}

/**
 * Artifacts for verification: a downloaded folder plus NAME=PATH pairs. The folder's chain-of-trust files
 * (isChainOfTrustFile: at their names, or at its top when it is public/ itself) are skipped and named in `skipped`.
 */
async function artifactSourcesForVerify(
  dir: string | undefined,
  pairs: string[],
): Promise<{ sources: ArtifactSource[]; skipped: string[] }> {
  const sources: ArtifactSource[] = [];
  const skipped: string[] = [];
  if (dir !== undefined) {
    for (const s of await enumerateArtifactDir(dir)) {
      if (isChainOfTrustFile(s.name)) skipped.push(s.name);
      else sources.push(s);
    }
  }
  sources.push(...pairs.map(parseArtifactPair));
  return { sources, skipped };
}

/** Keys for a verification: a flat --key list, or a trust store (--key-repo / --ed25519-keys) with --worker-impl. */
async function keySourceFromOptions(o: {
  key: string[];
  keyRepo?: string;
  ed25519Keys?: string;
  workerImpl?: string;
}): Promise<{ keys: VerificationKey[] } | { trust: LinkTrust }> {
  const useStore = o.keyRepo !== undefined || o.ed25519Keys !== undefined;
  if (useStore) {
    if (o.key.length > 0)
      throw usage('give either --key or a trust store (--key-repo / --ed25519-keys), not both');
    if (o.workerImpl === undefined) throw usage('--key-repo and --ed25519-keys need --worker-impl');
    const cache = newKeyCache();
    const store = o.keyRepo !== undefined ? await loadKeyRepo(o.keyRepo, { cache }) : emptyTrustStore();
    if (o.ed25519Keys !== undefined) await addEd25519TrustFile(store, o.ed25519Keys, cache);
    return { trust: { store, implementation: o.workerImpl } };
  }
  if (o.workerImpl !== undefined) throw usage('--worker-impl needs --key-repo or --ed25519-keys');
  if (o.key.length === 0)
    throw usage('give at least one --key, or --key-repo/--ed25519-keys with --worker-impl');
  return { keys: await loadVerificationKeys(o.key) };
}

/**
 * The queue a command talks to: a directory store (--queue DIR, which must exist: FILE_NOT_FOUND, exit 4) or
 * Taskcluster (--root-url / environment).
 */
async function queueFromOptions(
  o: { queue?: string; rootUrl?: string; allowHost?: string[]; allowReferenceArtifacts?: boolean },
  env: NodeJS.ProcessEnv,
  limits: { timeoutMs?: number; downloadDeadlineMs?: number; minBytesPerSecond?: number } = {},
): Promise<TaskQueue> {
  if (o.queue !== undefined && o.rootUrl !== undefined)
    throw usage('give either --queue DIR or --root-url URL');
  if (o.queue !== undefined) {
    const st = await stat(o.queue).catch((e: unknown) => {
      const err = fsError(e, o.queue!, '--queue');
      throw err.code === 'FILE_NOT_FOUND'
        ? new CotError('FILE_NOT_FOUND', `--queue ${o.queue}: no such directory store`, { cause: e })
        : err;
    });
    if (!st.isDirectory())
      throw new CotError('FILE_UNREADABLE', `--queue ${o.queue} is not a directory (a directory store)`);
    return new DirectoryQueue(o.queue);
  }
  return new TaskclusterQueue({
    ...TaskclusterQueue.optionsFromEnv(env, o.rootUrl),
    ...(o.allowHost && o.allowHost.length > 0 ? { allowedHosts: o.allowHost } : {}),
    ...(o.allowReferenceArtifacts ? { allowReferenceArtifacts: true } : {}),
    ...limits,
  });
}

/** --queue / --root-url, and for commands that download artifacts, what their redirects may follow. */
function addQueueOptions(c: Command, o: { downloads: boolean } = { downloads: true }): Command {
  c.option('--queue <dir>', 'a directory store (no server)').option(
    '--root-url <url>',
    'a Taskcluster deployment or `cot queue serve` (default: TASKCLUSTER_ROOT_URL / TASKCLUSTER_PROXY_URL)',
  );
  if (!o.downloads) return c;
  return c
    .addOption(listOption('--allow-host <host>', 'host that artifact redirects may lead to'))
    .option(
      '--allow-reference-artifacts',
      'follow reference artifacts (URLs chosen by tasks; refused by default)',
    );
}

export function buildProgram(io: Io): Command {
  const program = new Command();
  program
    .name('cot')
    .description(
      'Chain of trust for Taskcluster-style CI: hash artifacts, sign chain-of-trust documents, verify them.',
    )
    .version(VERSION, '-V, --version')
    // parse errors are printed by main() as `cot: USAGE: ...` (one line, or JSON with --json), not by commander
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .hook('preAction', (_program, action) => {
      // repeatable options given no value are empty lists (see LIST_OPTIONS)
      for (const opt of action.options)
        if (LIST_OPTIONS.has(opt) && action.getOptionValue(opt.attributeName()) === undefined)
          action.setOptionValue(opt.attributeName(), []);
    })
    .addHelpText(
      'after',
      examples(
        'cot demo --out cot-demo                  # a signed task graph on local files, verified',
        'cot verify TASK_ID --root-url https://tc.example.com --policy policy.yml',
        'cot generate --help                      # every command has --help, with an example',
      ),
    )
    .exitOverride();

  // ---- keys
  const keys = program
    .command('keys')
    .description('manage signing keys and key repositories')
    .addHelpText(
      'after',
      examples(
        'cot keys new --type ed25519 --out worker.key --pub-out worker.pub',
        'cot keys check ./cot-gpg-keys --ed25519-keys trust.json',
      ),
    )
    .exitOverride();
  keys
    .command('new')
    .description('generate a signing key pair; writes the private key (mode 0600) and prints the public key')
    .addOption(new Option('--type <type>', 'key type').choices(['openpgp', 'ed25519']).makeOptionMandatory())
    .requiredOption('--out <file>', 'private key file to write')
    .option('--pub-out <file>', 'also write the public key to this file')
    .option('--user-id <uid>', 'OpenPGP user id, "Name <email>"')
    .addOption(
      new Option('--curve <curve>', 'OpenPGP: use an elliptic-curve key instead of RSA-4096').choices([
        'ed25519',
      ]),
    )
    .option('--expires-in-days <n>', 'OpenPGP: key expiry in days (default: never)')
    .option('--force', 'replace existing key files')
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot keys new --type ed25519 --out worker.key --pub-out worker.pub',
        'cot keys new --type openpgp --out worker.asc --pub-out worker.pub.asc --user-id "docker-worker <cot@example.com>"',
      ),
    )
    .exitOverride()
    .action(async (o) => {
      if (
        o.type === 'ed25519' &&
        (o.userId !== undefined || o.curve !== undefined || o.expiresInDays !== undefined)
      ) {
        throw usage('--user-id, --curve and --expires-in-days apply to --type openpgp only');
      }
      const r = await generateKeyPair({
        type: o.type,
        out: o.out,
        ...(o.pubOut === undefined ? {} : { pubOut: o.pubOut }),
        ...(o.userId === undefined ? {} : { userId: o.userId }),
        pgpAlgorithm: o.curve === 'ed25519' ? 'ed25519' : 'rsa4096',
        ...(o.expiresInDays === undefined
          ? {}
          : { expiresInDays: parseNonNegativeInt(o.expiresInDays, '--expires-in-days') }),
        force: Boolean(o.force),
        now: io.now,
      });
      if (o.json) jsonOut(io, { ok: true, ...r });
      else {
        io.stdout(r.publicKey.endsWith('\n') ? r.publicKey : `${r.publicKey}\n`);
        io.stderr(
          `cot: wrote ${r.type} private key ${r.privatePath} (mode 0600)${r.publicPath ? ` and public key ${r.publicPath}` : ''}; key ${r.id}\n`,
        );
      }
    });

  keys
    .command('certify')
    .description('certify a worker OpenPGP key with a trusted root (exportable, as gpg --sign-key)')
    .requiredOption('--with <file>', "the trusted root's private key (armored OpenPGP)")
    .requiredOption('--key <file>', "the worker's public key")
    .requiredOption('--out <file>', 'where to write the certified public key')
    .option('--allow-insecure-key-permissions', 'use a private key file readable by others (not recommended)')
    .option('--force', 'replace an existing --out file')
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples('cot keys certify --with root.key --key worker.pub --out scriptworker/valid/worker.pub'),
    )
    .exitOverride()
    .action(async (o) => {
      const r = await certifyKeyFile({
        withPrivate: o.with,
        keyPublic: o.key,
        out: o.out,
        now: io.now,
        allowInsecureKeyPermissions: Boolean(o.allowInsecureKeyPermissions),
        force: Boolean(o.force),
      });
      if (o.json) jsonOut(io, { ok: true, ...r });
      else
        io.stdout(`certified ${r.certified} (${r.userIds.join(', ')}) with ${r.certifiedBy} -> ${r.out}\n`);
    });

  keys
    .command('list')
    .description(
      'every key of a key repository and/or ed25519 trust file: implementation, role, id, dates, window, status',
    )
    .argument('[dir]', 'key repository (cot-gpg-keys layout)')
    .option('--ed25519-keys <file>', 'also list an ed25519 trust file (JSON or YAML)')
    .option('--at <time>', 'reference time for the status (ISO 8601; default: now)')
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot keys list ./cot-gpg-keys --ed25519-keys trust.json',
        'cot keys list --ed25519-keys trust.yml --json',
      ),
    )
    .exitOverride()
    .action(async (dir: string | undefined, o) => {
      const at = parseTime(o.at, io.now);
      if (dir === undefined && o.ed25519Keys === undefined)
        throw usage('give a key repository and/or --ed25519-keys FILE');
      const store = dir !== undefined ? await loadKeyRepo(dir, { tolerant: true }) : emptyTrustStore();
      if (o.ed25519Keys !== undefined) await addEd25519TrustFile(store, o.ed25519Keys);
      const list = await listKeys(store, at);
      if (o.json) {
        jsonOut(io, {
          ok: true,
          referenceTime: at.toISOString(),
          keys: list,
          unusableFiles: store.files
            .filter((f) => f.error)
            .map((f) => ({ path: f.path, implementation: f.implementation, role: f.role, error: f.error })),
        });
        return;
      }
      for (const k of list) {
        io.stdout(
          `${k.implementation}\t${k.role}\t${k.status}\t${k.id}\t${k.created ?? '-'}\t${k.expires ?? 'never'}\t${k.userIds[0] ?? ''}${
            k.window
              ? `\ttrusted from ${k.window.from ?? '(any time)'} until ${k.window.until ?? '(no end)'}`
              : ''
          }${k.certifiedBy ? `\tcertified by ${k.certifiedBy}` : ''}${k.detail ? `\t(${k.detail})` : ''}${
            k.copies ? `\tcopies: ${k.copies.join(', ')}` : ''
          }\n`,
        );
      }
      for (const f of store.files.filter((f) => f.error)) io.stdout(`unusable\t${f.path}\t${f.error}\n`);
    });

  keys
    .command('check')
    .description(
      'lint a key repository and/or trust file: expired, expiring, revoked, weak, uncertified, duplicate keys',
    )
    .argument('[dir]', 'key repository (cot-gpg-keys layout)')
    .option('--ed25519-keys <file>', 'also check an ed25519 trust file (JSON or YAML; windows)')
    .addOption(
      numberOption('--warn-days <n>', 'warn for keys expiring (or leaving their window) within N days', 60),
    )
    .addOption(
      numberOption('--error-days <n>', 'error for keys expiring (or leaving their window) within N days', 30),
    )
    .option('--at <time>', 'reference time (ISO 8601; default: now)')
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot keys check ./cot-gpg-keys --ed25519-keys trust.json   # exit 0 clean, 6 warnings only, 1 errors',
      ),
    )
    .exitOverride()
    .action(async (dir: string | undefined, o) => {
      const r = await checkKeyRepo(dir, {
        at: parseTime(o.at, io.now),
        warnDays: parseNonNegativeInt(o.warnDays, '--warn-days'),
        errorDays: parseNonNegativeInt(o.errorDays, '--error-days'),
        ...(o.ed25519Keys === undefined ? {} : { ed25519Keys: o.ed25519Keys }),
      });
      const summary = `${r.keys.length} key(s): ${r.errors} error(s), ${r.warnings} warning(s)`;
      if (!o.json) {
        for (const f of r.findings) io.stdout(`${f.level}: ${f.message} [${f.file}]\n`);
        if (r.findings.length === 0) io.stdout(`ok: ${summary}\n`);
      }
      if (r.errors > 0)
        throw new CotError('KEYS_CHECK_ERRORS', summary, { details: { findings: r.findings } });
      if (r.warnings > 0)
        throw new CotError('KEYS_CHECK_WARNINGS', summary, { details: { findings: r.findings } });
      if (o.json) jsonOut(io, { ok: true, keys: r.keys.length, findings: [] });
    });

  keys
    .command('verify-repo')
    .description(
      "check that the key repository's newest tag is signed by an allowed git signer and is checked out",
    )
    .argument('<dir>', 'key repository (a git checkout)')
    .addOption(requiredListOption('--git-signers <file>', 'public key(s) allowed to sign the tags'))
    .option('--at <time>', 'reference time (ISO 8601; default: now)')
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples('cot keys verify-repo ./cot-gpg-keys --git-signers releng-tag-signers.asc'),
    )
    .exitOverride()
    .action(async (dir: string, o) => {
      const at = parseTime(o.at, io.now);
      const r = await verifyRepoTag(dir, await loadVerificationKeys(o.gitSigners), at);
      if (o.json)
        jsonOut(io, {
          ok: true,
          tag: r.tag,
          commit: r.commit,
          signers: r.signers.map((s) => signerJson(s, at)),
        });
      else
        io.stdout(
          `verified: tag ${r.tag} at ${r.commit} (checked out) signed by ${r.signers.map((s) => describeSigner(s, at)).join('; ')}\n`,
        );
    });

  keys
    .command('guard')
    .description(
      'check that a private key is owned by you with mode 0600 or stricter, and that the task user cannot read it',
    )
    .argument('<private>', 'private key file')
    .option(
      '--task-user <user>',
      'prove, by trying as that user, that tasks cannot read the key (needs root)',
    )
    .option('--fix', 'set mode 0600 and ownership when wrong')
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot keys guard /etc/cot/worker.key --fix',
        'sudo cot keys guard /etc/cot/worker.key --task-user task_1234',
      ),
    )
    .exitOverride()
    .action(async (path: string, o) => {
      const r = await guardKey(path, {
        ...(o.taskUser === undefined ? {} : { taskUser: o.taskUser }),
        fix: Boolean(o.fix),
      });
      if (o.json) jsonOut(io, { ok: true, ...r });
      else {
        io.stdout(
          `ok: ${r.path} mode ${r.mode}, owner uid ${r.uid}${r.fixed.length ? ` (fixed: ${r.fixed.join(', ')})` : ''}${
            r.taskUserCannotRead ? `; task user cannot read it (${r.taskUserCannotRead})` : ''
          }\n`,
        );
      }
    });

  // ---- queue serve
  const queueCmd = program
    .command('queue')
    .description('the queue: a local server over a directory store')
    .addHelpText('after', examples('cot queue serve --dir ./store --port 8080'))
    .exitOverride();
  queueCmd
    .command('serve')
    .description(
      "serve a directory store over the queue's REST routes (rootUrl http://HOST:PORT), loopback by default",
    )
    .requiredOption('--dir <dir>', 'the directory store')
    .addOption(numberOption('--port <n>', 'port (0 = any free port)', 0))
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option(
      '--client-id <id>',
      'client id allowed to write, with --access-token (default: COT_QUEUE_CLIENT_ID)',
    )
    .option('--access-token <token>', 'its access token (default: COT_QUEUE_ACCESS_TOKEN)')
    .option('--json', 'print the address served as JSON once listening')
    .addHelpText(
      'after',
      examples(
        'cot queue serve --dir ./store --port 8080',
        'cot queue serve --dir ./store --client-id uploader --access-token "$TOKEN"',
      ),
    )
    .exitOverride()
    .action(async (o) => {
      const clientId = o.clientId ?? process.env.COT_QUEUE_CLIENT_ID;
      const accessToken = o.accessToken ?? process.env.COT_QUEUE_ACCESS_TOKEN;
      if ((clientId === undefined) !== (accessToken === undefined))
        throw usage('give both --client-id and --access-token, or neither');
      const server = await startQueueServer({
        dir: o.dir,
        port: parseNonNegativeInt(o.port, '--port'),
        host: o.host,
        ...(clientId !== undefined ? { credentials: { clientId, accessToken: accessToken! } } : {}),
      });
      if (o.json)
        jsonOut(io, {
          ok: true,
          dir: o.dir,
          rootUrl: server.rootUrl,
          writesAllowedFor: clientId ?? null,
        });
      else
        io.stdout(
          `serving ${o.dir} at ${server.rootUrl} (writes ${clientId ? `allowed for ${clientId}` : 'refused: no credentials'})\n`,
        );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });

  // ---- upload
  addQueueOptions(
    program
      .command('upload')
      .description(
        'upload artifacts of a run (text gzipped on the wire, chain-of-trust files last, expiring with the task)',
      )
      .requiredOption('--task-id <id>', 'task id')
      .requiredOption('--run-id <n>', 'run id')
      .option('--artifacts <dir>', 'upload every file of this folder, named by its relative path')
      .argument('[pairs...]', 'NAME=PATH artifacts')
      .addOption(
        new Option('--storage-type <type>', 'artifact storage type').choices(['s3', 'object']).default('s3'),
      )
      .option('--expires <time>', "expiry (ISO 8601; default: the task's expires)")
      .option('--json', 'print a JSON result')
      .addHelpText(
        'after',
        examples(
          'cot upload --task-id LnshJjNXTfeBlPNrAzyy9w --run-id 0 --artifacts ./artifacts --root-url https://tc.example.com',
          'cot upload --task-id LnshJjNXTfeBlPNrAzyy9w --run-id 0 public/build/x.zip=./x.zip --queue ./store',
        ),
      ),
    { downloads: false },
  )
    .exitOverride()
    .action(async (pairs: string[], o) => {
      taskIdArgument(o.taskId, '--task-id');
      const queue = await queueFromOptions(o, process.env);
      const sources = [
        ...(o.artifacts ? await enumerateArtifactDir(o.artifacts) : []),
        ...pairs.map(parseArtifactPair),
      ];
      if (sources.length === 0) throw usage('give --artifacts DIR or NAME=PATH pairs');
      const done = await uploadArtifacts(queue, sources, {
        taskId: o.taskId,
        runId: parseNonNegativeInt(o.runId, '--run-id'),
        storageType: o.storageType,
        ...(o.expires ? { expires: o.expires } : {}),
      });
      if (o.json) jsonOut(io, { ok: true, queue: queue.description, uploaded: done });
      else
        for (const f of done)
          io.stdout(
            `uploaded ${f.name} (${f.contentType}${f.gzip ? ', gzip' : ''}) to ${queue.description}\n`,
          );
    });

  // ---- fetch
  addQueueOptions(
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
        numberOption('--max-bytes <n>', 'largest artifact, bytes', 8 * 1024 ** 3, '8589934592 (8 GiB)'),
      )
      .addOption(numberOption('--timeout <ms>', 'inactivity timeout per request', 30_000))
      .addOption(
        numberOption('--deadline <ms>', 'overall deadline of one artifact download', DEFAULT_DEADLINE_MS),
      )
      .addOption(
        numberOption(
          '--min-rate <bytes/s>',
          'minimum download rate after a 30 s grace period (0: none)',
          DEFAULT_MIN_BYTES_PER_SECOND,
        ),
      )
      .option('--json', 'print a JSON result')
      .addHelpText(
        'after',
        examples(
          'cot fetch T_ZwPp7sRfGObG6cL0YmoA --root-url https://tc.example.com --out ./mirror',
          'cot verify T_ZwPp7sRfGObG6cL0YmoA --queue ./mirror --policy policy.yml   # then, offline',
        ),
      ),
  )
    .exitOverride()
    .action(async (taskId: string, o) => {
      if (o.queue !== undefined)
        await assertSeparateFolders({ path: o.out, what: '--out' }, { path: o.queue, what: '--queue' });
      const limits = {
        timeoutMs: parsePositiveInt(o.timeout, '--timeout'),
        deadlineMs: parsePositiveInt(o.deadline, '--deadline'),
        minBytesPerSecond: parseNonNegativeInt(o.minRate, '--min-rate'),
      };
      // the queue applies them to its API reads, and to every download as defaults
      taskIdArgument(taskId);
      const queue = await queueFromOptions(o, process.env, {
        timeoutMs: limits.timeoutMs,
        downloadDeadlineMs: limits.deadlineMs,
        minBytesPerSecond: limits.minBytesPerSecond,
      });
      const r = await fetchChain(queue, taskId, o.out, {
        depth: parseNonNegativeInt(o.depth, '--depth'),
        maxTasks: parseNonNegativeInt(o.maxTasks, '--max-tasks'),
        maxBytes: parseNonNegativeInt(o.maxBytes, '--max-bytes'),
        ...(o.followDependencies ? { followDependencies: true } : {}),
        ...limits,
      });
      // the same rule as cot verify (failureOutcome): exit 1 when an item is missing for a trust reason (a bound,
      // an unsigned or unlisted artifact), else the first failure a retry cannot fix, else the first transient one
      const outcome = r.complete
        ? undefined
        : (failureOutcome(r.missing, 'FETCH_INCOMPLETE') ?? {
            code: 'FETCH_INCOMPLETE' as const,
            exitCode: exitCodeFor('FETCH_INCOMPLETE'),
            deciding: undefined,
          });
      const failure = outcome && {
        code: outcome.code,
        exitCode: outcome.exitCode,
        message: `the mirror in ${o.out} is incomplete: ${r.truncated ? 'the walk stopped at --depth or --max-tasks; ' : ''}${r.missing.length} item(s) missing${outcome.deciding ? `, first: ${outcome.deciding.code}: ${outcome.deciding.reason}` : ''}`,
      };
      if (o.json)
        jsonOut(io, {
          ok: r.complete,
          ...r,
          ...(failure ? { error: { code: failure.code, message: failure.message } } : {}),
        });
      else {
        // names come from the queue and the tasks: one escaped field each
        for (const t of r.tasks)
          io.stdout(
            `${'  '.repeat(t.depth)}${escapeControls(t.taskId)}${t.runId !== undefined ? ` run ${t.runId}` : ''}: ${t.artifacts.map(escapeControls).join(', ') || 'no artifacts'}
`,
          );
        for (const m of r.missing)
          io.stdout(
            `missing: ${m.taskId ?? ''}${m.artifact ? ` ${escapeControls(m.artifact)}` : ''}: ${m.code}: ${escapeControls(m.reason)}\n`,
          );
        io.stdout(
          `mirrored ${r.tasks.length} task(s), ${r.bytes} bytes, into ${o.out}${r.complete ? '' : ` (INCOMPLETE: ${r.missing.length} missing${r.truncated ? ', the walk stopped at a bound' : ''})`}\n`,
        );
      }
      if (failure) {
        io.stderr(`cot: ${failure.code}: ${escapeControls(failure.message)}\n`);
        io.exitCode = failure.exitCode;
      }
    });

  // ---- generate
  program
    .command('generate')
    .description('hash the artifacts, build the chain-of-trust document, sign it and write it atomically')
    .requiredOption('--task <file>', 'task definition (JSON) as the queue serves it')
    .requiredOption('--task-id <id>', 'task id')
    .requiredOption('--run-id <n>', 'run id')
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
    .option('--queue <dir>', 'with --upload: a directory store')
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
    .exitOverride()
    .action(async (o) => {
      if (!o.upload && (o.queue !== undefined || o.rootUrl !== undefined || o.stagingDir !== undefined))
        throw usage('--queue / --root-url / --staging-dir apply with --upload');
      if (o.artifacts === undefined && o.artifact.length === 0 && o.certifiedLog === undefined)
        throw usage('give --artifacts DIR or --artifact NAME=PATH');
      const out: string | undefined =
        o.out ?? (o.artifacts !== undefined ? join(o.artifacts, 'public') : undefined);
      if (out === undefined) throw usage('give --out DIR when artifacts are given only with --artifact');
      const signingKeys = [];
      for (const k of o.key as string[]) {
        if (o.taskUser !== undefined) await guardKey(k, { taskUser: o.taskUser });
        signingKeys.push(
          await loadSigningKey(k, { allowInsecureKeyPermissions: Boolean(o.allowInsecureKeyPermissions) }),
        );
      }
      const kinds = new Set(signingKeys.map((k) => k.kind));
      const format: SignatureFormat =
        o.format ?? (kinds.size === 2 ? 'both' : kinds.has('openpgp') ? 'openpgp' : 'ed25519');
      const task = await readJsonObject(o.task, 'task definition', true);
      const environment =
        o.environment === undefined ? undefined : await readJsonObject(o.environment, 'environment', true);
      const r = await workerChainOfTrust({
        environmentFrom: o.environmentFrom,
        ...(o.metadataEndpoint === undefined ? {} : { metadataEndpoint: o.metadataEndpoint }),
        ...(o.taskDir === undefined ? {} : { taskDir: o.taskDir }),
        ...((o.artifactRoot as string[]).length === 0 ? {} : { artifactRoots: o.artifactRoot as string[] }),
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
        runId: parseNonNegativeInt(o.runId, '--run-id'),
        workerGroup: o.workerGroup,
        workerId: o.workerId,
        ...(o.workerType === undefined ? {} : { workerType: o.workerType }),
        ...(environment === undefined ? {} : { environment }),
        ...(o.artifacts === undefined ? {} : { artifactDir: o.artifacts }),
        artifacts: (o.artifact as string[]).map(parseArtifactPair),
        keys: signingKeys,
        format,
        outDir: out,
        inputFiles: [
          { path: o.task, what: '--task' },
          ...(o.environment === undefined ? [] : [{ path: o.environment as string, what: '--environment' }]),
        ],
        now: io.now,
        hashAlgorithms: parseAlgorithms(o.hashAlgorithm),
        concurrency: Math.max(1, parseNonNegativeInt(o.concurrency, '--concurrency')),
      });
      const uploaded = r.uploaded;
      if (o.json) {
        jsonOut(io, {
          ok: true,
          uploaded: uploaded.map((u) => u.name),
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
      } else {
        for (const f of r.files) io.stdout(`wrote ${f.artifact} -> ${f.path} (${f.size} bytes)\n`);
        io.stdout(
          `task ${r.document.taskId} run ${r.document.runId}: ${r.artifacts.length} artifacts hashed, signed by ${r.signers.join(' and ')}\n`,
        );
        if (uploaded.length > 0) io.stdout(`uploaded ${uploaded.length} artifact(s) to the queue\n`);
        for (const w of r.warnings) io.stderr(`cot: warning: ${escapeControls(w.message)}\n`);
      }
    });

  // ---- demo
  program
    .command('demo')
    .description(
      'the main job on local files: keys, a task graph in a directory store, signed documents, cot verify',
    )
    .option('--out <dir>', 'where to build the demo', 'cot-demo')
    .option('--tamper', 'swap a build artifact after signing: the verification must fail')
    .option(
      '--force',
      "build in a non-empty folder the demo did not make (only the demo's own files are written; nothing removed)",
    )
    .option('--json', 'print the JSON report')
    .addHelpText(
      'after',
      examples(
        'cot demo --out cot-demo',
        'cot demo --out cot-demo-tampered --tamper   # exit 1: NOT VERIFIED',
      ),
    )
    .exitOverride()
    .action(async (o) => {
      const r = await runDemo({
        out: o.out,
        tamper: Boolean(o.tamper),
        force: Boolean(o.force),
        now: io.now,
      });
      if (o.json) jsonOut(io, chainReportJson(r.report));
      else {
        io.stdout(
          `cot demo: a task graph in ${r.dir}/queue (a directory store), keys in ${r.dir}/keys, policy ${r.policy}\n`,
        );
        for (const [name, id] of Object.entries(r.tasks)) io.stdout(`  ${name.padEnd(14)} ${id}\n`);
        io.stdout(`\n${renderChainText(r.report)}`);
        // a command that works as shown: `npx cot` finds this cot in a clone, in a project that depends on it and
        // in a global install; run once through `npx chain-of-trust`, `npx cot` would fetch an unrelated package
        const npx = fileURLToPath(import.meta.url).includes(`${sep}_npx${sep}`)
          ? 'npx chain-of-trust'
          : 'npx cot';
        io.stdout(
          `HTML report: ${r.reportHtml}\n\nverify again with:\n  ${npx} verify ${r.taskId} --queue ${shellPath(join(r.dir, 'queue'))} --policy ${shellPath(r.policy)}\n`,
        );
      }
      const outcome = failureOutcome(r.report.errors, 'CHAIN_VERIFICATION_FAILED');
      if (outcome) {
        io.stderr(
          `cot: ${outcome.code}: ${outcome.deciding.code}: ${escapeControls(outcome.deciding.message)}\n`,
        );
        io.exitCode = outcome.exitCode;
      }
    });

  // ---- verify (the chain)
  addQueueOptions(
    program
      .command('verify')
      .description("verify a task's chain of trust, link by link, back to its decision task")
      .argument('<taskId>', 'the task to verify (e.g. a release or signing task)')
      .requiredOption(
        '--policy <file>',
        'policy (YAML or JSON): keys, worker types, decision worker types, bounds',
      )
      .option('--at <time>', 'reference time (ISO 8601; default: now)')
      .option('--report <file>', 'also write a self-contained HTML report')
      .option('--json', 'print the JSON report')
      .addHelpText(
        'after',
        examples(
          'cot verify T_ZwPp7sRfGObG6cL0YmoA --root-url https://tc.example.com --policy policy.yml --report report.html',
          'cot verify T_ZwPp7sRfGObG6cL0YmoA --queue ./mirror --policy policy.yml --json',
        ),
      ),
  )
    .exitOverride()
    .action(async (taskId: string, o) => {
      taskIdArgument(taskId);
      const at = parseTime(o.at, io.now);
      const loaded = await loadPolicy(o.policy);
      // the report file is checked before the verification: a folder, or one of the inputs, is refused at once
      if (o.report !== undefined) {
        await assertFileTarget(o.report, '--report');
        await assertDistinctOutputs(
          [{ path: o.report, what: '--report' }],
          [
            { path: o.policy, what: '--policy' },
            // a trust file's entries are named FILE#implementation
            ...loaded.trust.files.map((f) => ({
              path: f.path.replace(/#[^/]*$/, ''),
              what: 'a key file the policy names',
            })),
          ],
        );
      }
      const queue = await queueFromOptions(
        { ...o, allowHost: [...(o.allowHost ?? []), ...loaded.policy.allowedHosts] },
        process.env,
        {
          timeoutMs: loaded.policy.bounds.timeoutMs,
          downloadDeadlineMs: loaded.policy.bounds.deadlineMs,
          minBytesPerSecond: loaded.policy.bounds.minBytesPerSecond,
        },
      );
      const showProgress = Boolean(io.isTTY) && !o.json && !process.env.CI;
      const report = await verifyChain(queue, taskId, {
        policy: loaded.policy,
        trust: loaded.trust,
        at,
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
      if (o.json)
        jsonOut(io, {
          ...chainReportJson(report),
          ...(failure ? { error: { code: failure.code, message: failure.message } } : {}),
        });
      else io.stdout(renderChainText(report));
      if (failure) {
        io.stderr(`cot: ${failure.code}: ${escapeControls(failure.message)}\n`);
        io.exitCode = failure.exitCode;
      }
    });

  // ---- verify-link
  program
    .command('verify-link')
    .description(
      'verify one chain-of-trust document: signature, then the verified JSON, ids and artifact hashes',
    )
    .argument(
      '<file>',
      'chainOfTrust.json.asc (OpenPGP cleartext) or chain-of-trust.json (ed25519, with its .sig)',
    )
    .option('--sig <file>', 'detached signature (default for ed25519: <file>.sig)')
    .addOption(listOption('--key <file>', 'allowed public key: armored/binary OpenPGP or base64 ed25519'))
    .option(
      '--artifacts <dir>',
      're-hash every file in this folder (the folder holding public/; chain-of-trust files skipped) against the document',
    )
    .addOption(listOption('--artifact <name=path>', 're-hash PATH as artifact NAME'))
    .option('--require-all', 'every artifact the document lists must be given (with --artifacts/--artifact)')
    .option('--task-id <id>', 'expected taskId')
    .option('--run-id <n>', 'expected runId')
    .option('--worker-group <g>', 'expected workerGroup')
    .option('--worker-id <w>', 'expected workerId')
    .addOption(
      listOption(
        '--hash-algorithm <alg>',
        'accepted artifact hash algorithms, or comma-separated',
        'sha256,sha512',
      ),
    )
    .option('--at <time>', 'reference time for the verification (ISO 8601; default: now)')
    .option(
      '--task-created <time>',
      "the task's created time from the queue (ISO 8601): earlier signatures are refused; ed25519 key windows are judged at it",
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
    .option(
      '--worker-impl <name>',
      'the worker implementation the task ran on (docker-worker, generic-worker, scriptworker, ...)',
    )
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot verify-link public/chain-of-trust.json --key worker.pub --artifacts ./downloaded --task-id LnshJjNXTfeBlPNrAzyy9w',
        'cot verify-link chainOfTrust.json.asc --key-repo ./cot-gpg-keys --worker-impl scriptworker',
      ),
    )
    .exitOverride()
    .action(async (file: string, o) => {
      const at = parseTime(o.at, io.now);
      const keySource = await keySourceFromOptions(o);
      const data = await readInput(file, 'document');
      let sigPath: string | undefined = o.sig;
      if (
        sigPath === undefined &&
        !data.subarray(0, 34).toString('latin1').startsWith('-----BEGIN PGP SIGNED MESSAGE-----')
      ) {
        if (await exists(`${file}.sig`)) sigPath = `${file}.sig`;
      }
      const signature = sigPath === undefined ? undefined : await readInput(sigPath, 'signature');
      const expected: ExpectedLink = {
        ...(o.taskId === undefined ? {} : { taskId: o.taskId }),
        ...(o.runId === undefined ? {} : { runId: parseNonNegativeInt(o.runId, '--run-id') }),
        ...(o.workerGroup === undefined ? {} : { workerGroup: o.workerGroup }),
        ...(o.workerId === undefined ? {} : { workerId: o.workerId }),
      };
      const { sources: artifacts, skipped } = await artifactSourcesForVerify(o.artifacts, o.artifact);
      const taskCreated =
        o.taskCreated === undefined ? undefined : parseTime(o.taskCreated, at, '--task-created');
      const r = await verifyLink({
        data,
        ...(signature === undefined ? {} : { signature }),
        ...keySource,
        at,
        ...(taskCreated === undefined ? {} : { taskCreated }),
        skewSeconds: parseNonNegativeInt(o.skew, '--skew'),
        expected,
        artifacts,
        requireAllArtifacts: Boolean(o.requireAll),
        hashAlgorithms: o.hashAlgorithm.length > 0 ? parseAlgorithms(o.hashAlgorithm) : HASH_ALGORITHMS,
        source: file,
      });
      if (o.json) {
        jsonOut(io, {
          ok: true,
          file,
          signatureKind: r.signatureKind,
          workerImplementation: r.implementation ?? null,
          taskId: r.document.taskId,
          runId: r.document.runId,
          workerGroup: r.document.workerGroup,
          workerId: r.document.workerId,
          workerType: r.document.workerType ?? null,
          signers: r.signers.map((s) => signerJson(s, at)),
          artifactsChecked: r.artifacts,
          artifactsNotChecked: r.unchecked,
          skipped,
          referenceTime: at.toISOString(),
          taskCreated: taskCreated?.toISOString() ?? null,
        });
      } else {
        io.stdout(
          `verified: task ${r.document.taskId} run ${r.document.runId} (${r.signatureKind}${r.implementation ? `, ${r.implementation}` : ''}) signed by ${r.signers
            .map((s) => describeSigner(s, at))
            .join(
              '; ',
            )}; ${r.artifacts.length} artifact(s) checked, ${r.unchecked.length} listed but not checked${
            skipped.length > 0 ? ` (chain-of-trust files skipped: ${skipped.join(', ')})` : ''
          }\n`,
        );
      }
    });

  // ---- verify-signature
  program
    .command('verify-signature')
    .description('check a signature over any file (the signature layer alone)')
    .argument('<file>', 'signed file (or a cleartext-signed .asc)')
    .addOption(
      requiredListOption('--key <file>', 'allowed public key: armored/binary OpenPGP or base64 ed25519'),
    )
    .option('--sig <file>', 'detached signature: raw 64-byte ed25519, or OpenPGP (armored/binary)')
    .option('--output <file>', 'write exactly the verified bytes to this file (atomically)')
    .option('--at <time>', 'reference time (ISO 8601; default: now)')
    .addOption(numberOption('--skew <seconds>', 'allowed clock skew for future-dated signatures', 300))
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot verify-signature foo.json --sig foo.json.sig --key scriptworker_public_key',
        'cot verify-signature chainOfTrust.json.asc --key signer.asc --output verified.json',
      ),
    )
    .exitOverride()
    .action(async (file: string, o) => {
      const at = parseTime(o.at, io.now);
      if (o.output !== undefined) {
        await assertFileTarget(o.output, '--output');
        await assertDistinctOutputs(
          [{ path: o.output, what: '--output' }],
          [
            { path: file, what: 'the signed file' },
            ...(o.sig === undefined ? [] : [{ path: o.sig as string, what: '--sig' }]),
            ...(o.key as string[]).map((k) => ({ path: k, what: `--key ${k}` })),
          ],
        );
      }
      const data = await readInput(file, 'file');
      const signature = o.sig === undefined ? undefined : await readInput(o.sig, 'signature');
      const keys = await loadVerificationKeys(o.key);
      const r = await verifySignature({
        data,
        ...(signature === undefined ? {} : { signature }),
        keys,
        at,
        skewSeconds: parseNonNegativeInt(o.skew, '--skew'),
        source: file,
      });
      if (o.output !== undefined) await writeFileAtomic(o.output, r.signedBytes);
      // A text-mode signature covers the text whatever its line endings: say which bytes were written.
      const sameAsFile = r.signedBytes.equals(data);
      const note =
        r.kind === 'openpgp-detached' && r.textMode
          ? `text-mode signature (type 0x01): it covers the text whatever its line endings (CRLF and LF verify alike)${
              o.output === undefined
                ? ''
                : sameAsFile
                  ? `; wrote ${o.output}: exactly the bytes of ${file}`
                  : `; wrote ${o.output}: the signed text with LF line endings (${r.signedBytes.length} bytes), not the ${data.length} bytes of ${file}, whose CRLF line endings the signature does not fix`
            }`
          : undefined;
      if (o.json) {
        jsonOut(io, {
          ok: true,
          file,
          kind: r.kind,
          textMode: Boolean(r.textMode),
          bytes: r.signedBytes.length,
          signers: r.signers.map((s) => signerJson(s, at)),
          ...(o.output === undefined
            ? {}
            : { output: { path: o.output, bytes: r.signedBytes.length, sameAsFile } }),
          ...(note ? { note } : {}),
        });
      } else {
        io.stdout(
          `good ${r.kind}${r.textMode && r.kind === 'openpgp-detached' ? ' (text mode)' : ''} signature over ${r.signedBytes.length} bytes by ${r.signers.map((s) => describeSigner(s, at)).join('; ')}\n`,
        );
        if (note) io.stdout(`note: ${note}\n`);
        else if (o.output !== undefined)
          io.stdout(`wrote ${o.output}: the ${r.signedBytes.length} signed bytes\n`);
      }
    });

  // ---- hash
  program
    .command('hash')
    .description('print the artifacts map the generator would write, for a folder or for files')
    .argument('<paths...>', 'one folder, or files (named by their relative path, or NAME=PATH)')
    .addOption(listOption('--hash-algorithm <alg>', 'sha256 and/or sha512, or comma-separated', 'sha256'))
    .addOption(numberOption('--concurrency <n>', 'files hashed at once', 8))
    .option('--json', 'print a JSON result: the artifacts map and the files skipped')
    .addHelpText(
      'after',
      examples(
        'cot hash ./artifacts',
        'cot hash public/build/target.tar.gz=/tmp/t.tgz --hash-algorithm sha256,sha512',
      ),
    )
    .exitOverride()
    .action(async (paths: string[], o) => {
      const algorithms = parseAlgorithms(o.hashAlgorithm);
      let sources: ArtifactSource[];
      let skipped: string[] = [];
      const first = paths[0]!;
      const firstIsDir =
        !first.includes('=') &&
        (await stat(first).then(
          (s) => s.isDirectory(),
          () => false,
        ));
      if (firstIsDir) {
        if (paths.length > 1) throw usage('give one folder, or files');
        sources = await enumerateArtifactDir(first);
        skipped = sources.filter((s) => RESERVED_ARTIFACT_NAMES.has(s.name)).map((s) => s.name);
        sources = sources.filter((s) => !RESERVED_ARTIFACT_NAMES.has(s.name));
        if (skipped.length > 0 && !o.json)
          io.stderr(`cot: skipped the chain-of-trust files ${skipped.join(', ')}\n`);
      } else {
        sources = paths.map((p) =>
          p.includes('=') ? parseArtifactPair(p) : parseArtifactPair(`${p.replace(/^\.\//, '')}=${p}`),
        );
      }
      const hashed = await hashArtifacts(sources, {
        algorithms,
        concurrency: Math.max(1, parseNonNegativeInt(o.concurrency, '--concurrency')),
      });
      if (o.json) jsonOut(io, { ok: true, algorithms, artifacts: toArtifactDigests(hashed), skipped });
      else io.stdout(`${canonicalize(toArtifactDigests(hashed))}\n`);
    });

  markRequired(program);
  return program;
}

/** The command line's command path (`cot keys new`): the subcommands named among `args`, the program's name first. */
function commandPath(program: Command, args: readonly string[]): string {
  const names = [program.name()];
  let cmd = program;
  for (const a of args) {
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (sub) {
      names.push(sub.name());
      cmd = sub;
    } else if (!a.startsWith('-')) break;
  }
  return names.join(' ');
}

/** Every required option of every command goes to the help's required section (commander help groups). */
function markRequired(c: Command): void {
  for (const o of c.options) if (o.mandatory) o.helpGroup(REQUIRED_GROUP);
  for (const sub of c.commands) markRequired(sub);
}

/**
 * Run the CLI; returns the exit code. Never throws. Everything printed passes terminalSafe (control, bidi and
 * invisible characters escaped, the output's own line feeds and tabs kept), and the error line
 * `cot: CODE: message` is one line whatever the message holds (text from a queue, a mirror or a document).
 */
export async function main(argv: string[], io?: Partial<Io>): Promise<number> {
  const stdout = io?.stdout ?? ((s: string) => process.stdout.write(s));
  const stderr = io?.stderr ?? ((s: string) => process.stderr.write(s));
  const full: Io = {
    stdout: (s) => stdout(terminalSafe(s)),
    stderr: (s) => stderr(terminalSafe(s)),
    now: io?.now ?? new Date(),
    isTTY: io?.isTTY ?? Boolean(process.stderr.isTTY),
  };
  const wantsJson = argv.includes('--json');
  let program: Command | undefined;
  try {
    program = buildProgram(full);
    await program.parseAsync(argv);
    return full.exitCode ?? EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return EXIT.OK;
      // an option-parser error (unknown option, missing option or argument, bad choice...): the documented form
      const message = `${e.message
        .replace(/^error: /, '')
        .replace(/\s*\n\s*/g, ' ')
        .trim()} (see ${commandPath(program!, argv.slice(2))} --help)`;
      if (wantsJson) jsonOut(full, { ok: false, error: { code: 'USAGE', message } });
      full.stderr(`cot: USAGE: ${escapeControls(message)}\n`);
      return EXIT.USAGE;
    }
    const err = isCotError(e)
      ? e
      : new CotError(
          'INTERNAL',
          `unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
          { cause: e },
        );
    if (wantsJson) jsonOut(full, { ok: false, error: err.toJSON() });
    full.stderr(`cot: ${err.code}: ${escapeControls(err.message)}\n`);
    return exitCodeFor(err.code);
  }
}
