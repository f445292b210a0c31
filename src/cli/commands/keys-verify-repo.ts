import type { Command } from '@commander-js/extra-typings';
import { describeSigners, presentSigner } from '../../cot/present-signer.js';
import { loadVerificationKeys } from '../../keys/keys.js';
import { verifyRepoTag } from '../../trust/git-repo.js';
import { type Io, jsonOut } from '../io.js';
import { examples, requiredListOption, timeOption } from '../options.js';

/** `cot keys verify-repo`: verifyRepoTag with the git signers given. */
export function registerKeysVerifyRepo(keys: Command, io: Io): void {
  keys
    .command('verify-repo')
    .description(
      "check that the key repository's newest tag is signed by an allowed git signer and is checked out",
    )
    .argument('<dir>', 'key repository (a git checkout)')
    .addOption(requiredListOption('--git-signers <file>', 'public key(s) allowed to sign the tags'))
    .addOption(timeOption('--at <time>', 'reference time (ISO 8601; default: now)'))
    .option('--json', 'print a JSON result')
    .addHelpText(
      'after',
      examples('cot keys verify-repo ./cot-gpg-keys --git-signers releng-tag-signers.asc'),
    )
    .exitOverride()
    .action(async (dir, o) => {
      const at = o.at ?? io.now;
      const r = await verifyRepoTag(dir, await loadVerificationKeys(o.gitSigners), at);
      if (o.json)
        jsonOut(io, {
          ok: true,
          tag: r.tag,
          commit: r.commit,
          signers: r.signers.map((s) => presentSigner(s, at).json),
        });
      else
        io.stdout(
          `verified: tag ${r.tag} at ${r.commit} (checked out) signed by ${describeSigners(r.signers, at)}\n`,
        );
    });
}
