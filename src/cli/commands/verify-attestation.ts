import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Command } from '@commander-js/extra-typings';
import { PROVENANCE_PREDICATE_TYPE, VSA_PREDICATE_TYPE } from '../../attest/statement.js';
import { matchSubjects, type VerifiedAttestation, verifyAttestation } from '../../attest/verify.js';
import { readInputFile } from '../../cot/inputs.js';
import { CotError } from '../../errors.js';
import { hashArtifacts, parseArtifactPair } from '../../hashing/artifacts.js';
import type { JsonObject } from '../../json/parse.js';
import { parseEd25519PrivateKey } from '../../keys/ed25519.js';
import { loadVerificationKeys } from '../../keys/keys.js';
import { exitCodeFor } from '../exit-codes.js';
import { failureJson, type Io, jsonOut, type ReportedFailure, reportFailure } from '../io.js';
import { examples, listOption, requiredListOption } from '../options.js';

/** The lines `cot verify-attestation` prints about a verified statement. */
function describe(v: VerifiedAttestation, file: string): string {
  const st = v.statement;
  const p = st.predicate as JsonObject;
  const lines = [
    `${file}: signature verified (${v.format === 'dsse' ? 'DSSE envelope' : 'Sigstore bundle'}, key ${v.keyId})`,
    `predicate: ${st.predicateType}`,
    `subjects: ${st.subject.length}`,
  ];
  if (st.predicateType === PROVENANCE_PREDICATE_TYPE) {
    const bd = p.buildDefinition as JsonObject;
    const rd = p.runDetails as JsonObject;
    const src = (bd.externalParameters as JsonObject | undefined)?.source as JsonObject | undefined;
    lines.push(`builder: ${String((rd.builder as JsonObject).id)}`);
    const inv = (rd.metadata as JsonObject | undefined)?.invocationId;
    if (inv !== undefined) lines.push(`invocation: ${String(inv)}`);
    if (src)
      lines.push(
        src.traced === true
          ? `source: ${String(src.repository)}@${String(src.revision)}`
          : `source: not traced (${String(src.reason)})`,
      );
  }
  if (st.predicateType === VSA_PREDICATE_TYPE) {
    lines.push(
      `resource: ${String(p.resourceUri)}`,
      `verified: ${String(p.timeVerified)} by ${String((p.verifier as JsonObject).id)}`,
    );
    const levels = Array.isArray(p.verifiedLevels) ? p.verifiedLevels.filter((l) => l !== 'FAILED') : [];
    lines.push(
      `result: ${String(p.verificationResult)}${levels.length > 0 ? ` (${levels.join(', ')})` : ''}`,
    );
  }
  for (const m of v.matched)
    lines.push(`artifact ${m.name}: matches its subject (sha256 ${m.digest?.sha256 ?? '-'})`);
  return `${lines.join('\n')}\n`;
}

/**
 * verifyAttestation with the ed25519 keys given; when no signature verifies, one likely mistake is named: a --key
 * file that holds the signer's private key (32 bytes of base64, like a public key), whose public half does verify:
 * KEY_INVALID saying so, instead of a bare ATTESTATION_SIGNATURE_INVALID.
 */
function verifyOrExplain(
  bytes: Uint8Array,
  keys: Awaited<ReturnType<typeof loadVerificationKeys>>,
  file: string,
): VerifiedAttestation {
  const ed = keys.flatMap((k) => (k.kind === 'ed25519' ? [k] : []));
  try {
    return verifyAttestation(bytes, { keys: ed.map((k) => k.key), acceptFailed: true, source: file });
  } catch (e) {
    if (!(e instanceof CotError) || e.code !== 'ATTESTATION_SIGNATURE_INVALID') throw e;
    for (const k of ed) {
      let derived: KeyObject;
      try {
        derived = createPublicKey(parseEd25519PrivateKey(k.publicKey, k.source).privateKey);
      } catch {
        continue;
      }
      try {
        verifyAttestation(bytes, { keys: [derived], acceptFailed: true, source: file });
      } catch {
        continue;
      }
      throw new CotError(
        'KEY_INVALID',
        `--key ${k.source} holds the private key that signed ${file}, not its public key: give the public key (the file cot keys new --pub-out wrote), and keep the private one to yourself`,
        { details: { path: k.source, reason: 'private-key' } },
      );
    }
    throw e;
  }
}

/** `cot verify-attestation`: verifyAttestation of a DSSE envelope or Sigstore bundle, and files against subjects. */
export function registerVerifyAttestation(program: Command, io: Io): void {
  program
    .command('verify-attestation')
    .description(
      'check an attestation cot wrote (DSSE envelope or Sigstore bundle): signature, statement and predicate, and files against its subjects',
    )
    .argument('<file>', 'a <name>.intoto.json DSSE envelope or a <name>.sigstore.json Sigstore bundle')
    .addOption(requiredListOption('--key <file>', "the verifier's ed25519 public key (base64)"))
    .addOption(
      listOption('--artifact <name=path>', 'a file that must be the subject NAME: hashed and compared'),
    )
    .option('--json', 'print a JSON result (the statement included)')
    .addHelpText(
      'after',
      examples(
        'cot verify-attestation attestations/T_ZwPp7sRfGObG6cL0YmoA.provenance.intoto.json --key verifier.pub --artifact public/build/target.tar.gz=./target.tar.gz',
        'cot verify-attestation vsa.sigstore.json --key verifier.pub',
      ),
    )
    .exitOverride()
    .action(async (file, o) => {
      // nothing is read before every --artifact is well formed
      const sources = (o.artifact ?? []).map(parseArtifactPair);
      const bytes = await readInputFile(file, 'attestation');
      const keys = await loadVerificationKeys(o.key);
      if (!keys.some((k) => k.kind === 'ed25519'))
        throw new CotError(
          'KEY_INVALID',
          `--key: attestations are checked with ed25519 public keys; ${o.key.join(', ')} hold${o.key.length === 1 ? 's' : ''} none`,
        );
      // the signature first: no file is hashed for an attestation that does not verify
      const verified = verifyOrExplain(bytes, keys, file);
      const hashed = await hashArtifacts(sources, { algorithms: ['sha256', 'sha512'] });
      const byName = new Map(hashed.map((h) => [h.name, h]));
      const matched = matchSubjects(
        verified.statement,
        sources.map((s) => ({
          name: s.name,
          path: s.path,
          digest: byName.get(s.name)!.digests as Record<string, string>,
        })),
        file,
      );
      const v = { ...verified, matched };
      let failure: ReportedFailure | undefined;
      if (v.verificationResult === 'FAILED')
        failure = {
          code: 'ATTESTATION_FAILED',
          exitCode: exitCodeFor('ATTESTATION_FAILED'),
          message: `${file}: a genuine verification summary of ${String(v.statement.predicate.resourceUri)}: the verification FAILED`,
        };
      if (o.json)
        jsonOut(io, {
          ok: failure === undefined,
          file,
          format: v.format,
          keyId: v.keyId,
          predicateType: v.statement.predicateType,
          ...(v.verificationResult ? { verificationResult: v.verificationResult } : {}),
          artifacts: v.matched.map((m) => ({ name: m.name, digest: m.digest })),
          statement: v.statement,
          ...failureJson(failure),
        });
      else io.stdout(describe(v, file));
      if (failure) reportFailure(io, failure);
    });
}
