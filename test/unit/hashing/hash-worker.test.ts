import { createHash, randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashInWorker } from '../../../src/hashing/hash-worker.js';
import { tempDir } from '../../helpers/env.js';

const MiB = 1024 * 1024;
const POOL = randomBytes(4 * MiB + 4099);

/** A source of `total` bytes in chunks of `chunk` bytes (views of POOL), calling `onRead` before each. */
function source(total: number, chunk: number, o: { failAt?: number; onRead?: (made: number) => void } = {}) {
  const made = { bytes: 0, hash: createHash('sha256'), hash512: createHash('sha512') };
  const stream = new Readable({
    read() {
      o.onRead?.(made.bytes);
      if (o.failAt !== undefined && made.bytes >= o.failAt) {
        this.destroy(new Error('the source broke'));
        return;
      }
      if (made.bytes >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, total - made.bytes);
      const at = (made.bytes * 7) % (POOL.length - n);
      const c = POOL.subarray(at, at + n);
      made.bytes += n;
      made.hash.update(c);
      made.hash512.update(c);
      this.push(c);
    },
  });
  return { stream, made };
}

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});

describe('hashInWorker', () => {
  it('hashes every algorithm and writes exactly the bytes hashed, whatever the chunk sizes', async () => {
    for (const [total, chunk] of [
      [0, 1000],
      [1, 1],
      [MiB, 64 * 1024],
      [5 * MiB + 123, 65_531],
      [9 * MiB + 7, 3 * MiB + 1], // chunks larger than a block
    ] as const) {
      const { stream, made } = source(total, chunk);
      const path = join(dir, `out-${total}.bin`);
      const fh = await open(path, 'wx');
      const d = await hashInWorker(stream, ['sha256', 'sha512'], { fd: fh.fd });
      await fh.close();
      const sha256 = made.hash.digest('hex');
      expect(d).toEqual({ size: total, digests: { sha256, sha512: made.hash512.digest('hex') } });
      expect(
        createHash('sha256')
          .update(await readFile(path))
          .digest('hex'),
      ).toBe(sha256);
    }
  });

  it('without a file: only hashes', async () => {
    const { stream, made } = source(3 * MiB + 5, 64 * 1024);
    expect(await hashInWorker(stream, ['sha256'])).toEqual({
      size: 3 * MiB + 5,
      digests: { sha256: made.hash.digest('hex') },
    });
  });

  it('memory stays bounded: the source is paused while the worker is behind', async () => {
    // the source gives views of memory (no work) while the worker hashes and writes: it is far behind, so without
    // backpressure the source would run tens of MiB ahead of the file
    const path = join(dir, 'bounded.bin');
    const fh = await open(path, 'wx');
    let ahead = 0;
    const { stream, made } = source(128 * MiB, 64 * 1024, {
      onRead: (n) => {
        ahead = Math.max(ahead, n - fstatSync(fh.fd).size);
      },
    });
    const d = await hashInWorker(stream, ['sha256'], { fd: fh.fd });
    await fh.close();
    expect(d.digests.sha256).toBe(made.hash.digest('hex'));
    // 8 blocks of 1 MiB at the worker, one batch gathering, what the source's own buffer holds
    expect(ahead).toBeLessThanOrEqual(10 * MiB + stream.readableHighWaterMark);
  });

  it('a failing source: its error, the file not blamed', async () => {
    const { stream } = source(10 * MiB, 64 * 1024, { failAt: 3 * MiB });
    const fh = await open(join(dir, 'broken-source.bin'), 'wx');
    let blamed = false;
    const err = await hashInWorker(stream, ['sha256'], {
      fd: fh.fd,
      onFileError: () => {
        blamed = true;
      },
    }).catch((e: Error) => e);
    await fh.close();
    expect((err as Error).message).toBe('the source broke');
    expect(blamed).toBe(false);
  });

  it('a source closed before its end is an error', async () => {
    const { stream } = source(10 * MiB, 64 * 1024);
    const p = hashInWorker(stream, ['sha256']);
    stream.once('data', () => stream.destroy());
    expect(((await p.catch((e: unknown) => e)) as NodeJS.ErrnoException).code).toBe(
      'ERR_STREAM_PREMATURE_CLOSE',
    );
  });

  it('a failing write: rejects with its code, blames the file, destroys the source', async () => {
    const path = join(dir, 'read-only.bin');
    await (await open(path, 'wx')).close();
    const fh = await open(path, 'r'); // writes fail (EBADF)
    const { stream } = source(10 * MiB, 64 * 1024);
    let blamed: unknown;
    const err = await hashInWorker(stream, ['sha256'], {
      fd: fh.fd,
      onFileError: (e) => {
        blamed = e;
      },
    }).catch((e: unknown) => e);
    await fh.close();
    expect((err as NodeJS.ErrnoException).code).toBe('EBADF');
    expect(blamed).toBe(err);
    expect(stream.destroyed).toBe(true);
  });
});
