import { spawnSync } from 'node:child_process';
import { chmod, chown, constants, lstat, open } from 'node:fs/promises';
import { CotError, fsError, notAFile, optionRef } from '../errors.js';
import { assertNotPublicKey } from '../keys/keys.js';
import { checkOption, checkOptions } from '../util/options.js';

export interface GuardOptions {
  /** the user tasks run as: prove it cannot read the key by trying, as that user */
  taskUser?: string;
  /** tighten the mode to 0600 and take ownership when they are wrong */
  fix?: boolean;
}

export interface GuardResult {
  path: string;
  mode: string;
  uid: number;
  /** what --fix changed */
  fixed: string[];
  /** the task user tried to read the key and could not */
  taskUserCannotRead?: string;
}

function idOf(user: string, flag: '-u' | '-g'): number {
  const r = spawnSync('id', [flag, user], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new CotError('OPTIONS_INVALID', `no such user ${JSON.stringify(user)}: ${r.stderr.trim()}`);
  return Number(r.stdout.trim());
}

/** The first 4 KiB of a file (empty when it cannot be read: the name alone is then judged). */
async function headOf(path: string): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch(
    () => undefined,
  );
  if (fh === undefined) return Buffer.alloc(0);
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } catch {
    return Buffer.alloc(0);
  } finally {
    await fh.close();
  }
}

/**
 * Check a worker's private key file: a public key (publicKeyReason) is KEY_INVALID; owned by the running user, mode 0600 or stricter (with `fix`, make it so);
 * with `taskUser`, actually try to read it as that user (with that user's groups, through `runuser`), as
 * generic-worker does before every chain-of-trust task. A key the task user can read must not sign.
 */
export async function guardKey(path: string, o: GuardOptions = {}): Promise<GuardResult> {
  checkOption('guardKey', 'path', path, { kind: 'string' });
  checkOptions('guardKey', o, {
    taskUser: { kind: 'string', optional: true },
    fix: { kind: 'boolean', optional: true },
  });
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch (e) {
    throw fsError(e, path, 'cannot stat key');
  }
  if (st.isSymbolicLink())
    throw new CotError(
      'KEY_INSECURE_PERMISSIONS',
      `private key ${path} is a symlink; point at the real file`,
    );
  if (!st.isFile()) throw notAFile(path, 'private key', st);
  // a public key is refused (KEY_INVALID) before its mode is judged or fixed: nobody needs to chmod a public key
  assertNotPublicKey(path, await headOf(path));
  const me = process.getuid?.() ?? -1;
  const fixed: string[] = [];
  let mode = st.mode & 0o7777;
  let uid = st.uid;
  const problems = (): string[] => {
    const p: string[] = [];
    if (mode & 0o077)
      p.push(`its mode is ${mode.toString(8).padStart(4, '0')}, which gives group or others access`);
    if (uid !== me) p.push(`it is owned by uid ${uid}, not by the running user (uid ${me})`);
    return p;
  };
  if (problems().length > 0 && o.fix) {
    if (uid !== me) {
      try {
        await chown(path, me, process.getgid?.() ?? -1);
        uid = me;
        fixed.push(`chown ${me}`);
      } catch (e) {
        throw new CotError(
          'KEY_INSECURE_PERMISSIONS',
          `private key ${path}: cannot take ownership: ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
    if (mode & 0o077) {
      const next = mode & 0o700 & ~0o100;
      await chmod(path, next || 0o600);
      mode = next || 0o600;
      fixed.push(`chmod ${mode.toString(8).padStart(4, '0')}`);
    }
  }
  const left = problems();
  if (left.length > 0) {
    throw new CotError(
      'KEY_INSECURE_PERMISSIONS',
      `private key ${path} is not protected: ${left.join('; ')} (use ${optionRef('fix')})`,
      {
        details: { path, mode: mode.toString(8), uid, options: ['fix'] },
      },
    );
  }
  const result: GuardResult = { path, mode: mode.toString(8).padStart(4, '0'), uid, fixed };
  if (o.taskUser !== undefined) {
    const taskUid = idOf(o.taskUser, '-u');
    if (me !== 0 && taskUid === me) {
      throw new CotError(
        'KEY_READABLE_BY_TASK_USER',
        `tasks run as ${o.taskUser}, the user that owns the key ${path}: the task can read the key and forge chain-of-trust documents`,
      );
    }
    if (me !== 0) {
      throw new CotError(
        'OPTIONS_INVALID',
        `proving that ${o.taskUser} cannot read ${path} needs root (to run as that user)`,
      );
    }
    const r = spawnSync('runuser', ['-u', o.taskUser, '--', 'cat', '--', path], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (r.error)
      throw new CotError(
        'OPTIONS_INVALID',
        `cannot run runuser to test as ${o.taskUser}: ${r.error.message}`,
        {
          cause: r.error,
        },
      );
    if (r.status === 0) {
      throw new CotError(
        'KEY_READABLE_BY_TASK_USER',
        `user ${o.taskUser} (uid ${taskUid}) can read the private key ${path}: refusing, since a task could forge chain-of-trust documents`,
      );
    }
    result.taskUserCannotRead = `${o.taskUser}: ${r.stderr.toString().trim() || `exit ${r.status}`}`;
  }
  return result;
}
