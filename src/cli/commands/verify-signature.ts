import type { Command } from '@commander-js/extra-typings';
import { readInputFile } from '../../cot/inputs.js';
import { describeSigners, presentSigner } from '../../cot/present-signer.js';
import { loadVerificationKeys } from '../../keys/keys.js';
import { type VerifiedSignature, verifySignature } from '../../signature/verify.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { assertDistinctOutputs, assertFileTarget } from '../../util/output-paths.js';
import { type Io, jsonOut } from '../io.js';
import { examples, numberOption, requiredListOption, timeOption } from '../options.js';

/** `cot verify-signature`: verifySignature over any file, optionally writing exactly the verified bytes. */
export function registerVerifySignature(program: Command, io: Io): void {
  program
    .command('verify-signature')
    .description('check a signature over any file (the signature layer alone)')
    .argument('<file>', 'signed file (or a cleartext-signed .asc)')
    .addOption(
      requiredListOption('--key <file>', 'allowed public key: armored/binary OpenPGP or base64 ed25519'),
    )
    .option('--sig <file>', 'detached signature: raw 64-byte ed25519, or OpenPGP (armored/binary)')
    .option('--output <file>', 'write exactly the verified bytes to this file (atomically)')
    .addOption(timeOption('--at <time>', 'reference time (ISO 8601; default: now)'))
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
    .action(async (file, o) => {
      const at = o.at ?? io.now;
      if (o.output !== undefined) {
        await assertFileTarget(o.output, '--output');
        await assertDistinctOutputs(
          [{ path: o.output, what: '--output' }],
          [
            { path: file, what: 'the signed file' },
            ...(o.sig === undefined ? [] : [{ path: o.sig, what: '--sig' }]),
            ...o.key.map((k) => ({ path: k, what: `--key ${k}` })),
          ],
        );
      }
      const data = await readInputFile(file, 'file');
      const signature = o.sig === undefined ? undefined : await readInputFile(o.sig, 'signature');
      const keys = await loadVerificationKeys(o.key);
      const r = await verifySignature({
        data,
        ...(signature === undefined ? {} : { signature }),
        keys,
        at,
        skewSeconds: o.skew,
        source: file,
      });
      if (o.output !== undefined) await writeFileAtomic(o.output, r.signedBytes);
      const note = textModeNote(r, data, file, o.output);
      if (o.json) {
        jsonOut(io, {
          ok: true,
          file,
          kind: r.kind,
          textMode: Boolean(r.textMode),
          bytes: r.signedBytes.length,
          signers: r.signers.map((s) => presentSigner(s, at).json),
          ...(o.output === undefined
            ? {}
            : {
                output: {
                  path: o.output,
                  bytes: r.signedBytes.length,
                  sameAsFile: r.signedBytes.equals(data),
                },
              }),
          ...(note ? { note } : {}),
        });
        return;
      }
      io.stdout(
        `good ${r.kind}${r.textMode && r.kind === 'openpgp-detached' ? ' (text mode)' : ''} signature over ${r.signedBytes.length} bytes by ${describeSigners(r.signers, at)}\n`,
      );
      if (note) io.stdout(`note: ${note}\n`);
      else if (o.output !== undefined)
        io.stdout(`wrote ${o.output}: the ${r.signedBytes.length} signed bytes\n`);
    });
}

/**
 * A text-mode signature covers the text whatever its line endings: say so, and which bytes were written to
 * `output`. Undefined for any other signature.
 */
function textModeNote(
  r: VerifiedSignature,
  data: Buffer,
  file: string,
  output: string | undefined,
): string | undefined {
  if (r.kind !== 'openpgp-detached' || !r.textMode) return undefined;
  const written =
    output === undefined
      ? ''
      : r.signedBytes.equals(data)
        ? `; wrote ${output}: exactly the bytes of ${file}`
        : `; wrote ${output}: the signed text with LF line endings (${r.signedBytes.length} bytes), not the ${data.length} bytes of ${file}, whose CRLF line endings the signature does not fix`;
  return `text-mode signature (type 0x01): it covers the text whatever its line endings (CRLF and LF verify alike)${written}`;
}
