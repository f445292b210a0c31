import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A throwaway GnuPG home driving the real `gpg` binary. */
export class Gpg {
  constructor(readonly home: string) {}

  static async create(dir: string): Promise<Gpg> {
    const home = join(dir, 'gnupg');
    await mkdir(home, { recursive: true, mode: 0o700 });
    return new Gpg(home);
  }

  run(args: string[], input?: string | Buffer): { status: number; stdout: Buffer; stderr: string } {
    const r = spawnSync('gpg', ['--homedir', this.home, '--batch', '--no-tty', ...args], {
      input,
      env: { ...process.env, GNUPGHOME: this.home },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
  }

  ok(args: string[], input?: string | Buffer): Buffer {
    const r = this.run(args, input);
    if (r.status !== 0) throw new Error(`gpg ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** Generate a key; returns its fingerprint. */
  genKey(uid: string, algo: 'rsa2048' | 'rsa4096' | 'ed25519' | 'dsa2048' | 'rsa1024' = 'ed25519'): string {
    this.ok(['--passphrase', '', '--quick-gen-key', uid, algo, 'sign', 'never']);
    const out = this.ok(['--with-colons', '--list-keys', uid]).toString();
    const fpr = out.split('\n').find((l) => l.startsWith('fpr:'));
    if (!fpr) throw new Error('no fingerprint');
    return fpr.split(':')[9]!;
  }

  /** Revoke a key for real (gpg --edit-key revkey). Menu reason: 0 none, 1 compromised, 2 superseded, 3 retired. */
  revoke(fpr: string, reason: 0 | 1 | 2 | 3, fakedTime?: Date): void {
    const time = fakedTime ? ['--faked-system-time', `${Math.floor(fakedTime.getTime() / 1000)}!`] : [];
    this.ok(
      [
        '--yes',
        '--command-fd',
        '0',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        ...time,
        '--edit-key',
        fpr,
      ],
      `revkey\ny\n${reason}\nrevoked by the cot test suite\n\ny\nsave\n`,
    );
  }

  exportSecret(fpr: string): Buffer {
    return this.ok([
      '--pinentry-mode',
      'loopback',
      '--passphrase',
      '',
      '--armor',
      '--export-secret-keys',
      fpr,
    ]);
  }

  exportPublic(fpr: string): string {
    return this.ok(['--armor', '--export', fpr]).toString();
  }
}
