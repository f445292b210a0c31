import type { Command } from '@commander-js/extra-typings';
import { CotError } from '../../errors.js';
import { checkKeyRepo, type KeyListing, type KeyRepoReport, listKeys } from '../../trust/lint.js';
import { addEd25519TrustFile, emptyTrustStore, loadKeyRepo, type TrustStore } from '../../trust/store.js';
import { count, type Io, jsonOut } from '../io.js';
import { examples, numberOption, timeOption, usage } from '../options.js';

/** `cot keys list`: listKeys over a key repository and/or a trust file. */
export function registerKeysList(keys: Command, io: Io): void {
  keys
    .command('list')
    .description(
      'every key of a key repository and/or ed25519 trust file: implementation, role, id, dates, window, status',
    )
    .argument('[dir]', 'key repository (cot-gpg-keys layout)')
    .option('--ed25519-keys <file>', 'also list an ed25519 trust file (JSON or YAML)')
    .addOption(timeOption('--at <time>', 'reference time for the status (ISO 8601; default: now)'))
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot keys list ./cot-gpg-keys --ed25519-keys trust.json',
        'cot keys list --ed25519-keys trust.yml --json',
      ),
    )
    .exitOverride()
    .action(async (dir, o) => {
      const at = o.at ?? io.now;
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
      } else printKeyList(io, list, store);
    });
}

/** One tab-separated line per key, then one per unusable file. */
function printKeyList(io: Io, list: readonly KeyListing[], store: TrustStore): void {
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
}

/**
 * A `cot keys check` report with findings, as the error that ends the run: KEYS_CHECK_ERRORS (exit 1) when any
 * finding is an error, KEYS_CHECK_WARNINGS (exit 6) for warnings alone; undefined when the report is clean.
 */
function keysCheckFailure(r: KeyRepoReport, summary: string): CotError | undefined {
  if (r.errors > 0) return new CotError('KEYS_CHECK_ERRORS', summary, { details: { findings: r.findings } });
  if (r.warnings > 0)
    return new CotError('KEYS_CHECK_WARNINGS', summary, { details: { findings: r.findings } });
  return undefined;
}

/** `cot keys check`: checkKeyRepo; its findings decide the exit code (keysCheckFailure). */
export function registerKeysCheck(keys: Command, io: Io): void {
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
    .addOption(timeOption('--at <time>', 'reference time (ISO 8601; default: now)'))
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples(
        'cot keys check ./cot-gpg-keys --ed25519-keys trust.json   # exit 0 clean, 6 warnings only, 1 errors',
      ),
    )
    .exitOverride()
    .action(async (dir, o) => {
      if (o.errorDays > o.warnDays)
        throw usage(`--error-days (${o.errorDays}) cannot exceed --warn-days (${o.warnDays})`);
      if (dir === undefined && o.ed25519Keys === undefined)
        throw usage('give a key repository and/or an ed25519 trust file');
      const r = await checkKeyRepo(dir, {
        at: o.at ?? io.now,
        warnDays: o.warnDays,
        errorDays: o.errorDays,
        ...(o.ed25519Keys === undefined ? {} : { ed25519Keys: o.ed25519Keys }),
      });
      const summary = `${count(r.keys.length, 'key')}: ${count(r.errors, 'error')}, ${count(r.warnings, 'warning')}`;
      if (!o.json) {
        for (const f of r.findings) io.stdout(`${f.level}: ${f.message} [${f.file}]\n`);
        if (r.findings.length === 0) io.stdout(`ok: ${summary}\n`);
      }
      const failure = keysCheckFailure(r, summary);
      if (failure) throw failure;
      if (o.json) jsonOut(io, { ok: true, keys: r.keys.length, findings: [] });
    });
}
