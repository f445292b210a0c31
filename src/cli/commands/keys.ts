import { type Command, Option } from '@commander-js/extra-typings';
import { generateKeyPair } from '../../keys/generate.js';
import { certifyKeyFile } from '../../trust/certify.js';
import { guardKey } from '../../trust/guard.js';
import { type Io, jsonOut } from '../io.js';
import { examples, integerOption, usage } from '../options.js';
import { registerKeysCheck, registerKeysList } from './keys-list.js';
import { registerKeysVerifyRepo } from './keys-verify-repo.js';

/** `cot keys ...`: signing keys and key repositories. */
export function registerKeys(program: Command, io: Io): void {
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
  registerKeysNew(keys, io);
  registerKeysCertify(keys, io);
  registerKeysList(keys, io);
  registerKeysCheck(keys, io);
  registerKeysVerifyRepo(keys, io);
  registerKeysGuard(keys, io);
}

/** `cot keys new`: generateKeyPair. */
function registerKeysNew(keys: Command, io: Io): void {
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
    .addOption(integerOption('--expires-in-days <n>', 'OpenPGP: key expiry in days (default: never)'))
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
      // commander's conflicts cannot depend on --type's value
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
        ...(o.expiresInDays === undefined ? {} : { expiresInDays: o.expiresInDays }),
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
}

/** `cot keys certify`: certifyKeyFile. */
function registerKeysCertify(keys: Command, io: Io): void {
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
}

/** `cot keys guard`: guardKey. */
function registerKeysGuard(keys: Command, io: Io): void {
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
    .action(async (path, o) => {
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
}
