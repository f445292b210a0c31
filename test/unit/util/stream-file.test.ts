import { createHash, randomBytes } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { streamInBlocks } from '../../../src/util/stream-file.js';
import { tempDir } from '../../helpers/env.js';

const MiB = 1024 * 1024;
const POOL = randomBytes(MiB + 4099);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A source of `total` bytes in chunks of `chunk` bytes (taken from POOL), counting what it produced. */
function source(total: number, chunk = 64 * 1024, failAt?: number) {
  const made = { bytes: 0, all: [] as Buffer[] };
  const stream = new Readable({
    read() {
      if (failAt !== undefined && made.bytes >= failAt) {
        this.destroy(new Error('the source broke'));
        return;
      }
      if (made.bytes >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, total - made.bytes);
      const at = made.bytes % (POOL.length - chunk);
      const c = Buffer.from(POOL.subarray(at, at + n));
      made.bytes += n;
      made.all.push(c);
      this.push(c);
    },
  });
  return { stream, made };
}

/** Let every pending callback and I/O event run a few times over. */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});

describe('streamInBlocks', () => {
  it('writes exactly the bytes, in order, and shows every chunk and every block once', async () => {
    for (const [total, chunk] of [
      [0, 1000],
      [1, 1],
      [2 * MiB, 64 * 1024],
      [5 * MiB + 123, 65_531],
      [19 * MiB + 7, 300_000],
    ] as const) {
      const { stream, made } = source(total, chunk);
      const path = join(dir, `out-${total}.bin`);
      const fh = await open(path, 'wx');
      const chunks = createHash('sha256');
      const blocks = createHash('sha256');
      let blockBytes = 0;
      const n = await streamInBlocks(stream, {
        fh,
        onChunk: (c) => chunks.update(c),
        onBlock: async (b) => {
          blocks.update(b);
          blockBytes += b.length;
        },
      });
      await fh.close();
      const want = sha256(Buffer.concat(made.all));
      expect(n).toBe(total);
      expect(blockBytes).toBe(total);
      expect(sha256(await readFile(path))).toBe(want);
      expect(chunks.digest('hex')).toBe(want);
      expect(blocks.digest('hex')).toBe(want);
    }
  });

  it('pauses the source while every block waits (bounded memory), and resumes', async () => {
    const total = 40 * MiB;
    const { stream, made } = source(total);
    const held: (() => void)[] = [];
    let allTaken!: () => void;
    const taken = new Promise<void>((r) => {
      allTaken = r;
    });
    const seen = createHash('sha256');
    const done = streamInBlocks(stream, {
      onBlock: (b) => {
        seen.update(b);
        return new Promise<void>((r) => {
          held.push(r);
          if (held.length === 8) allTaken();
        });
      },
    });
    await taken;
    await settle();
    // 8 blocks of 2 MiB are taken; the source may have given one more chunk and what its buffer holds, no more
    expect(held.length).toBe(8);
    expect(made.bytes).toBeLessThanOrEqual(16 * MiB + 2 * 64 * 1024 + stream.readableHighWaterMark);
    expect(stream.isPaused()).toBe(true);
    // release blocks as they come until the end
    const release = setInterval(() => {
      for (const r of held.splice(0)) r();
    }, 1);
    try {
      expect(await done).toBe(total);
    } finally {
      clearInterval(release);
    }
    expect(seen.digest('hex')).toBe(sha256(Buffer.concat(made.all)));
  });

  it('a failing source: its error, the file side not blamed', async () => {
    const { stream } = source(10 * MiB, 64 * 1024, 3 * MiB);
    const fh = await open(join(dir, 'broken-source.bin'), 'wx');
    let fileBlamed = false;
    const err = await streamInBlocks(stream, {
      fh,
      onFileError: () => {
        fileBlamed = true;
      },
    }).catch((e: Error) => e);
    await fh.close();
    expect((err as Error).message).toBe('the source broke');
    expect(fileBlamed).toBe(false);
  });

  it('a source closed before its end is an error', async () => {
    const { stream } = source(10 * MiB);
    const p = streamInBlocks(stream, {});
    stream.once('data', () => stream.destroy());
    expect(((await p.catch((e: unknown) => e)) as NodeJS.ErrnoException).code).toBe(
      'ERR_STREAM_PREMATURE_CLOSE',
    );
  });

  it('a failing write: rejects, blames the file, destroys the source', async () => {
    const path = join(dir, 'read-only.bin');
    await (await open(path, 'wx')).close();
    const fh = await open(path, 'r'); // writes fail (EBADF)
    const { stream } = source(10 * MiB);
    let blamed: unknown;
    const err = await streamInBlocks(stream, {
      fh,
      onFileError: (e) => {
        blamed = e;
      },
    }).catch((e: unknown) => e);
    await fh.close();
    expect((err as NodeJS.ErrnoException).code).toBe('EBADF');
    expect(blamed).toBe(err);
    expect(stream.destroyed).toBe(true);
  });

  it('a failing onBlock or onChunk: rejects with its error, destroys the source', async () => {
    const a = source(10 * MiB);
    const e1 = await streamInBlocks(a.stream, {
      onBlock: () => Promise.reject(new Error('no hash')),
    }).catch((e: Error) => e);
    expect((e1 as Error).message).toBe('no hash');
    expect(a.stream.destroyed).toBe(true);
    const b = source(10 * MiB);
    const e2 = await streamInBlocks(b.stream, {
      onChunk: () => {
        throw new Error('no chunk');
      },
    }).catch((e: Error) => e);
    expect((e2 as Error).message).toBe('no chunk');
    expect(b.stream.destroyed).toBe(true);
  });
});
