import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WorkerDigester } from '../../../src/hashing/worker-digest.js';
import { codeOf } from '../../helpers/env.js';

describe('WorkerDigester', () => {
  it('hashes blocks of shared memory in the order given, every algorithm, with the size', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 11);
    const block = Buffer.from(new SharedArrayBuffer(1024 * 1024));
    const w = new WorkerDigester(['sha256', 'sha512']);
    try {
      for (let at = 0; at < data.length; at += block.length) {
        const n = data.copy(block, 0, at);
        // the block is reused once hashed: the digest must see each version of it
        await w.update(block.subarray(0, n));
      }
      const r = await w.result();
      expect(r).toEqual({
        size: data.length,
        digests: {
          sha256: createHash('sha256').update(data).digest('hex'),
          sha512: createHash('sha512').update(data).digest('hex'),
        },
      });
    } finally {
      await w.close();
    }
  });

  it('an empty input gives the digests of nothing', async () => {
    const w = new WorkerDigester(['sha256']);
    try {
      expect(await w.result()).toEqual({
        size: 0,
        digests: { sha256: createHash('sha256').digest('hex') },
      });
    } finally {
      await w.close();
    }
  });

  it('once closed, pending and later calls reject with INTERNAL', async () => {
    const w = new WorkerDigester(['sha256']);
    const pending = codeOf(w.update(Buffer.from(new SharedArrayBuffer(64 * 1024))));
    await w.close();
    expect(await pending).toBe('INTERNAL');
    expect(await codeOf(w.update(Buffer.alloc(1)))).toBe('INTERNAL');
    expect(await codeOf(w.result())).toBe('INTERNAL');
  });
});
