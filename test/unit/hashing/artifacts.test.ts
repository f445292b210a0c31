import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  assertArtifactName,
  enumerateArtifactDir,
  parseArtifactPair,
  toArtifactDigests,
} from '../../../src/hashing/artifacts.js';
import { digestFile } from '../../../src/hashing/digest.js';
import { hashArtifacts } from '../../../src/index.js';
import { codeOf, tempDir } from '../../helpers/env.js';

describe('artifact names', () => {
  it.each(['', '/etc/passwd', 'a/../b', '..', 'a\\b', 'a\u0000b', 'a//b', './a', 'a/', 'C:/x'])(
    'refuses %j',
    async (name) => {
      expect(await codeOf(() => assertArtifactName(name))).toBe('ARTIFACT_NAME_INVALID');
    },
  );
  it.each(['public/build/target.tar.bz2', 'public/logs/live_backing.log', 'a..b/c.d', 'é/💩'])(
    'accepts %j',
    (name) => {
      expect(() => assertArtifactName(name)).not.toThrow();
    },
  );
  it('parses NAME=PATH (the path may contain "=")', async () => {
    expect(parseArtifactPair('public/x=/tmp/a=b')).toEqual({
      name: 'public/x',
      path: '/tmp/a=b',
      resolved: false,
    });
    expect(await codeOf(() => parseArtifactPair('noequals'))).toBe('OPTIONS_INVALID');
    expect(await codeOf(() => parseArtifactPair('../x=/tmp/a'))).toBe('ARTIFACT_NAME_INVALID');
  });
});

describe('enumerateArtifactDir', () => {
  it('lists regular files recursively, as sorted POSIX names, excluding given outputs', async () => {
    const d = await tempDir();
    await mkdir(join(d, 'public/logs'), { recursive: true });
    await mkdir(join(d, 'public/build/deep/er'), { recursive: true });
    await writeFile(join(d, 'public/logs/live_backing.log'), 'log');
    await writeFile(join(d, 'public/build/deep/er/z'), 'z');
    await writeFile(join(d, 'public/build/a'), 'a');
    await writeFile(join(d, 'public/chain-of-trust.json'), 'old output');
    await symlink('build/a', join(d, 'public/link-to-a')); // inside: followed
    const list = await enumerateArtifactDir(d, {
      exclude: [join(d, 'public/chain-of-trust.json'), join(d, 'public/not-yet')],
    });
    expect(list.map((s) => s.name)).toEqual([
      'public/build/a',
      'public/build/deep/er/z',
      'public/link-to-a',
      'public/logs/live_backing.log',
    ]);
  });

  it('refuses a symlink that points outside the artifact directory', async () => {
    const d = await tempDir();
    await symlink('/etc/passwd', join(d, 'passwd'));
    expect(await codeOf(enumerateArtifactDir(d))).toBe('ARTIFACT_UNSAFE_FILE');
    const d2 = await tempDir();
    await mkdir(join(d2, 'sub'));
    await symlink('../..', join(d2, 'sub/up'));
    expect(await codeOf(enumerateArtifactDir(join(d2, 'sub')))).toBe('ARTIFACT_UNSAFE_FILE');
  });

  it('refuses dangling symlinks and symlink loops', async () => {
    const d = await tempDir();
    await symlink('nowhere', join(d, 'dangling'));
    expect(await codeOf(enumerateArtifactDir(d))).toBe('ARTIFACT_UNSAFE_FILE');
    const d2 = await tempDir();
    await mkdir(join(d2, 'a'));
    await symlink('..', join(d2, 'a/loop'));
    expect(await codeOf(enumerateArtifactDir(d2))).toBe('ARTIFACT_UNSAFE_FILE');
  });

  it('refuses FIFOs and sockets', async () => {
    const d = await tempDir();
    execFileSync('mkfifo', [join(d, 'fifo')]);
    expect(await codeOf(enumerateArtifactDir(d))).toBe('ARTIFACT_UNSAFE_FILE');
    const d2 = await tempDir();
    const server = createServer();
    await new Promise<void>((r) => server.listen(join(d2, 'sock'), r));
    try {
      expect(await codeOf(enumerateArtifactDir(d2))).toBe('ARTIFACT_UNSAFE_FILE');
    } finally {
      server.close();
    }
  });

  it('refuses a file name with a backslash', async () => {
    const d = await tempDir();
    await writeFile(join(d, 'a\\b'), 'x');
    expect(await codeOf(enumerateArtifactDir(d))).toBe('ARTIFACT_NAME_INVALID');
  });

  it('says when the folder does not exist', async () => {
    expect(await codeOf(enumerateArtifactDir('/nonexistent/cot/dir'))).toBe('FILE_NOT_FOUND');
  });
});

describe('hashing', () => {
  it('streams files larger than the chunk size and matches a one-shot hash (sha256 and sha512)', async () => {
    const d = await tempDir();
    const data = randomBytes(5 * 1024 * 1024 + 123);
    await writeFile(join(d, 'big'), data);
    const r = await digestFile(join(d, 'big'), ['sha256', 'sha512']);
    expect(r.size).toBe(data.length);
    expect(r.digests.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(r.digests.sha512).toBe(createHash('sha512').update(data).digest('hex'));
  });

  it('hashes the empty file and known vectors', async () => {
    const d = await tempDir();
    await writeFile(join(d, 'empty'), '');
    await writeFile(join(d, 'foo'), 'foo\n');
    const hashed = await hashArtifacts(
      [
        { name: 'public/foo', path: join(d, 'foo'), resolved: false },
        { name: 'public/empty', path: join(d, 'empty'), resolved: false },
      ],
      { concurrency: 2 },
    );
    expect(toArtifactDigests(hashed)).toEqual({
      'public/empty': { sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
      'public/foo': { sha256: 'b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c' },
    });
  });

  it('refuses reserved and duplicate names, and non-regular files given explicitly', async () => {
    const d = await tempDir();
    await writeFile(join(d, 'f'), 'x');
    const f = join(d, 'f');
    expect(
      await codeOf(hashArtifacts([{ name: 'public/chain-of-trust.json', path: f, resolved: false }])),
    ).toBe('ARTIFACT_RESERVED_NAME');
    expect(
      await codeOf(
        hashArtifacts([
          { name: 'a', path: f, resolved: false },
          { name: 'a', path: f, resolved: false },
        ]),
      ),
    ).toBe('ARTIFACT_DUPLICATE_NAME');
    expect(await codeOf(hashArtifacts([{ name: 'a', path: d, resolved: false }]))).toBe(
      'ARTIFACT_UNSAFE_FILE',
    );
    expect(await codeOf(hashArtifacts([{ name: 'a', path: join(d, 'missing'), resolved: false }]))).toBe(
      'FILE_NOT_FOUND',
    );
    execFileSync('mkfifo', [join(d, 'fifo')]);
    // a FIFO must be refused without blocking on open
    expect(await codeOf(hashArtifacts([{ name: 'a', path: join(d, 'fifo'), resolved: false }]))).toBe(
      'ARTIFACT_UNSAFE_FILE',
    );
  });
});
