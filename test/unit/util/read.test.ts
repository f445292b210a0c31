import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectoryQueue } from '../../../src/transport/dir-store.js';
import { readSmallFile } from '../../../src/util/read.js';
import { errorOf, tempDir } from '../../helpers/env.js';

// The bounded reads: a regular file is read in one call when it kept its size, anything else to its end.
describe('bounded reads', () => {
  it('a pipe that answers in short pieces is read to its end, not to its first short read', async () => {
    const d = await tempDir();
    const fifo = join(d, 'policy.fifo');
    execFileSync('mkfifo', [fifo]);
    // the writer sends 3 pieces with pauses: each read of the pipe returns one piece, shorter than asked
    const writer = spawn(
      'sh',
      ['-c', `{ printf '{"a":'; sleep 0.2; printf '1,'; sleep 0.2; printf '"b":2}'; } > "${fifo}"`],
      { stdio: 'ignore' },
    );
    const closed = new Promise((r) => writer.on('close', r));
    const bytes = await readSmallFile(fifo, 'policy', 1024);
    await closed;
    expect(bytes.toString()).toBe('{"a":1,"b":2}');
  });

  it('a pipe longer than the limit is refused with the limit named', async () => {
    const d = await tempDir();
    const fifo = join(d, 'big.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', `head -c 5000 /dev/zero > "${fifo}"`], { stdio: 'ignore' });
    const err = await errorOf(readSmallFile(fifo, 'policy', 1000));
    writer.kill();
    expect(err.code).toBe('FILE_UNREADABLE');
    expect(err.message).toMatch(/over the 1000-byte limit/);
  });
});

describe('DirectoryQueue.openArtifact', () => {
  const store = async (files: Record<string, Buffer>) => {
    const d = await tempDir();
    const id = 'AAAAAAAAQAGAAAAAAAAAAA';
    mkdirSync(join(d, id, 'runs', '0', 'artifacts', 'public'), { recursive: true });
    writeFileSync(join(d, id, 'task.json'), '{}');
    for (const [name, bytes] of Object.entries(files))
      writeFileSync(join(d, id, 'runs/0/artifacts', name), bytes);
    return { q: new DirectoryQueue(d), id };
  };
  const drain = async (s: NodeJS.ReadableStream) => {
    const chunks: Buffer[] = [];
    for await (const c of s as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  };

  it('gives every byte of a small artifact, an empty one and one larger than the whole-read size', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    big.write('end', big.length - 3);
    const { q, id } = await store({
      'public/small.txt': Buffer.from('hello'),
      'public/empty': Buffer.alloc(0),
      'public/big.bin': big,
    });
    for (const [name, want] of [
      ['public/small.txt', Buffer.from('hello')],
      ['public/empty', Buffer.alloc(0)],
      ['public/big.bin', big],
    ] as const) {
      const o = await q.openArtifact(id, 0, name);
      expect(o.size).toBe(want.length);
      const got = await drain(o.stream);
      expect(createHash('sha256').update(got).digest('hex')).toBe(
        createHash('sha256').update(want).digest('hex'),
      );
    }
  });

  it('refuses an artifact over maxBytes before reading it, small or large', async () => {
    const { q, id } = await store({
      'public/a': Buffer.alloc(100),
      'public/b': Buffer.alloc(2 * 1024 * 1024),
    });
    for (const name of ['public/a', 'public/b']) {
      const err = await errorOf(q.openArtifact(id, 0, name, { maxBytes: 50 }));
      expect(err.code).toBe('TRANSPORT_TOO_LARGE');
    }
  });

  it('a FIFO in place of an artifact is refused without blocking', async () => {
    const { q, id } = await store({});
    execFileSync('mkfifo', [join(q.root, id, 'runs/0/artifacts/public/fifo')]);
    const err = await errorOf(q.openArtifact(id, 0, 'public/fifo'));
    expect(err.code).toBe('ARTIFACT_UNSAFE_FILE');
  });
});

describe('a directory store whose metadata files are not regular files', () => {
  // the store reads task.json, status.json and artifacts.json with synchronous calls: a FIFO there must be refused
  // at once (a blocking open froze the whole process, `cot queue serve` included)
  const id = 'AAAAAAAAQAGAAAAAAAAAAA';
  for (const file of ['task.json', 'status.json', 'runs/0/artifacts.json']) {
    it(`${file} as a FIFO: FILE_UNREADABLE, no hang`, async () => {
      const d = await tempDir();
      mkdirSync(join(d, id, 'runs', '0', 'artifacts'), { recursive: true });
      if (file !== 'task.json') writeFileSync(join(d, id, 'task.json'), '{}');
      execFileSync('mkfifo', [join(d, id, file)]);
      const q = new DirectoryQueue(d);
      const call =
        file === 'task.json' ? q.task(id) : file === 'status.json' ? q.status(id) : q.listArtifacts(id, 0);
      const err = await errorOf(call);
      expect(err.code).toBe('FILE_UNREADABLE');
      expect(err.message).toMatch(/not a regular file/);
    }, 10_000);
  }
});
