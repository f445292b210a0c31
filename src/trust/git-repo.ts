import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { CotError } from '../errors.js';
import type { VerificationKey } from '../keys/keys.js';
import { type Signer, verifySignature } from '../signature/verify.js';

const run = promisify(execFile);

async function git(dir: string, args: string[]): Promise<Buffer> {
  try {
    const r = await run('git', ['-c', `safe.directory=${resolve(dir)}`, '-C', dir, ...args], {
      encoding: 'buffer',
      maxBuffer: 16 * 1024 * 1024,
    });
    return r.stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new CotError('REPO_GIT_FAILED', 'git is not installed', { cause: e });
    const stderr = err.stderr ? err.stderr.toString().trim() : err.message;
    throw new CotError('REPO_GIT_FAILED', `git ${args.join(' ')} in ${dir}: ${stderr}`, { cause: e });
  }
}

export interface VerifiedRepoTag {
  tag: string;
  commit: string;
  signers: Signer[];
}

const SIG_START = '-----BEGIN PGP SIGNATURE-----';

/**
 * The key repository's newest tag (`git describe --abbrev=0`, as the reference verifier did) must be an annotated
 * tag carrying an OpenPGP signature by one of `signers` (the allowed git signing keys, delivered out of band), and
 * must point at the checked-out commit. The signature is checked by cot itself over the exact tag object bytes,
 * never by a keyring that could hold other keys.
 */
export async function verifyRepoTag(
  dir: string,
  signers: readonly VerificationKey[],
  at: Date,
): Promise<VerifiedRepoTag> {
  const head = (await git(dir, ['rev-parse', '--verify', 'HEAD'])).toString().trim();
  let tag: string;
  try {
    tag = (await git(dir, ['describe', '--abbrev=0'])).toString().trim();
  } catch (e) {
    throw new CotError(
      'REPO_NO_SIGNED_TAG',
      `key repository ${dir}: no annotated tag is reachable from HEAD`,
      { cause: e },
    );
  }
  const type = (await git(dir, ['cat-file', '-t', `refs/tags/${tag}`])).toString().trim();
  if (type !== 'tag')
    throw new CotError('REPO_NO_SIGNED_TAG', `key repository ${dir}: tag ${tag} is not an annotated tag`);
  const raw = await git(dir, ['cat-file', 'tag', `refs/tags/${tag}`]);
  const text = raw.toString('latin1');
  const at_ = text.indexOf(`\n${SIG_START}`);
  if (at_ < 0) throw new CotError('REPO_NO_SIGNED_TAG', `key repository ${dir}: tag ${tag} is not signed`);
  const payload = raw.subarray(0, at_ + 1);
  const signature = raw.subarray(at_ + 1);
  let verified: Awaited<ReturnType<typeof verifySignature>>;
  try {
    verified = await verifySignature({ data: payload, signature, keys: signers, at, source: `tag ${tag}` });
  } catch (e) {
    if (e instanceof CotError) {
      throw new CotError(
        e.code === 'KEY_NOT_FOUND' ? 'REPO_NO_SIGNED_TAG' : e.code,
        `key repository ${dir}: tag ${tag} is not signed by an allowed git signer: ${e.message}`,
        { cause: e },
      );
    }
    throw e;
  }
  const object = /^object ([0-9a-f]{40,64})\n/.exec(payload.toString('latin1'));
  const objType = /\ntype (\w+)\n/.exec(payload.toString('latin1'));
  if (!object || objType?.[1] !== 'commit') {
    throw new CotError('REPO_NO_SIGNED_TAG', `key repository ${dir}: tag ${tag} does not tag a commit`);
  }
  if (object[1] !== head) {
    throw new CotError(
      'REPO_TAG_NOT_HEAD',
      `key repository ${dir}: tag ${tag} is at ${object[1]}, but the checked-out commit is ${head}`,
    );
  }
  return { tag, commit: head, signers: verified.signers };
}
