import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  generateKeyPair,
  loadSigningKey,
  loadVerificationKeys,
  parseVerificationKeys,
} from '../../../src/index.js';
import { rawPublicKey, rawSeed } from '../../../src/keys/ed25519.js';
import { codeOf, tempDir } from '../../helpers/env.js';

const NOW = new Date('2026-11-25T12:00:00Z');

describe('ed25519 key files', () => {
  it('accepts a 32-byte seed and a 64-byte NaCl secret key, and says which', async () => {
    const d = await tempDir();
    const g = await generateKeyPair({
      type: 'ed25519',
      out: join(d, 'seed.key'),
      pubOut: join(d, 'k.pub'),
      now: NOW,
    });
    const seedKey = await loadSigningKey(join(d, 'seed.key'));
    if (seedKey.kind !== 'ed25519') throw new Error('kind');
    expect(seedKey.format).toBe('seed-32');
    expect(seedKey.publicKey).toBe(g.publicKey);
    const nacl = Buffer.concat([rawSeed(seedKey.privateKey), rawPublicKey(seedKey.privateKey)]).toString(
      'base64',
    );
    await writeFile(join(d, 'nacl.key'), nacl, { mode: 0o600 });
    const naclKey = await loadSigningKey(join(d, 'nacl.key'));
    if (naclKey.kind !== 'ed25519') throw new Error('kind');
    expect(naclKey.format).toBe('nacl-secret-64');
    expect(naclKey.publicKey).toBe(g.publicKey);
  });

  it('refuses a 64-byte key whose public half is not its own, and wrong lengths', async () => {
    const d = await tempDir();
    await writeFile(join(d, 'bad64'), Buffer.alloc(64, 7).toString('base64'), { mode: 0o600 });
    expect(await codeOf(loadSigningKey(join(d, 'bad64')))).toBe('KEY_INVALID');
    await writeFile(join(d, 'short'), Buffer.alloc(31).toString('base64'), { mode: 0o600 });
    expect(await codeOf(loadSigningKey(join(d, 'short')))).toBe('KEY_INVALID');
    await writeFile(join(d, 'junk'), 'not base64 !!', { mode: 0o600 });
    expect(await codeOf(loadSigningKey(join(d, 'junk')))).toBe('KEY_INVALID');
    expect(await codeOf(parseVerificationKeys(Buffer.from(Buffer.alloc(33).toString('base64')), 'p'))).toBe(
      'KEY_INVALID',
    );
  });

  it('never overwrites an existing key unless forced', async () => {
    const d = await tempDir();
    await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), now: NOW });
    expect(await codeOf(generateKeyPair({ type: 'ed25519', out: join(d, 'k'), now: NOW }))).toBe(
      'FILE_EXISTS',
    );
    await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), now: NOW, force: true });
  });
});

describe('private key permissions', () => {
  it('refuses a key readable by group or others, says which file and why, unless explicitly allowed', async () => {
    const d = await tempDir();
    await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), now: NOW });
    for (const mode of [0o640, 0o604, 0o660, 0o666, 0o602]) {
      await chmod(join(d, 'k'), mode);
      const err = await loadSigningKey(join(d, 'k')).catch((e: unknown) => e as Error & { code: string });
      expect(err).toMatchObject({ code: 'KEY_INSECURE_PERMISSIONS' });
      expect((err as Error).message).toContain(join(d, 'k'));
      expect((err as Error).message).toContain(`mode is 0${mode.toString(8)}`);
    }
    await chmod(join(d, 'k'), 0o644);
    expect((await loadSigningKey(join(d, 'k'), { allowInsecureKeyPermissions: true })).kind).toBe('ed25519');
    await chmod(join(d, 'k'), 0o400);
    expect((await loadSigningKey(join(d, 'k'))).kind).toBe('ed25519');
  });

  it.skipIf(process.getuid?.() !== 0)(
    'refuses a key owned by another user (as root: chown to nobody)',
    async () => {
      const { chown } = await import('node:fs/promises');
      const d = await tempDir();
      await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), now: NOW });
      await chown(join(d, 'k'), 65534, 65534);
      const err = await loadSigningKey(join(d, 'k')).catch((e: unknown) => e as Error & { code: string });
      expect(err).toMatchObject({ code: 'KEY_INSECURE_PERMISSIONS' });
      expect((err as Error).message).toContain('owned by uid 65534, not by the running user (uid 0)');
    },
  );

  it('refuses a public key or a directory given as private key', async () => {
    const d = await tempDir();
    await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'ed25519',
      out: join(d, 'k'),
      pubOut: join(d, 'k.pub'),
      now: NOW,
    });
    await chmod(join(d, 'k.pub'), 0o600);
    expect(await codeOf(loadSigningKey(join(d, 'k.pub')))).toBe('KEY_INVALID');
    // a directory is a FILE_* error, like every other file argument (was KEY_INVALID before issue 10)
    expect(await codeOf(loadSigningKey(d))).toBe('FILE_UNREADABLE');
    expect(await codeOf(loadSigningKey(join(d, 'absent')))).toBe('FILE_NOT_FOUND');
  });
});

describe('OpenPGP keys', () => {
  it('generates v4 keys that load back, and refuses private keys as verification keys', async () => {
    const d = await tempDir();
    const g = await generateKeyPair({
      type: 'openpgp',
      pgpAlgorithm: 'ed25519',
      userId: 'Worker <worker@example.com>',
      out: join(d, 'k'),
      pubOut: join(d, 'k.pub'),
      now: NOW,
    });
    const sk = await loadSigningKey(join(d, 'k'));
    expect(sk.kind).toBe('openpgp');
    if (sk.kind === 'openpgp') {
      expect(sk.fingerprint).toBe(g.id);
      expect(sk.key.keyPacket.version).toBe(4);
      expect(sk.userIds).toEqual(['Worker <worker@example.com>']);
    }
    const vk = await loadVerificationKeys([join(d, 'k.pub')]);
    expect(vk).toHaveLength(1);
    expect(await codeOf(loadVerificationKeys([join(d, 'k')]))).toBe('KEY_INVALID');
  });
});
