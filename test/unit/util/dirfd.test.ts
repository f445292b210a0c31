/**
 * Folders opened once and used through their descriptor (src/util/dirfd.ts), the atomic writes through them
 * (writeFilesAtomicIn), and the staging folder's parent rule.
 */
import { chmod, mkdir, readdir, readFile, realpath, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  generateChainOfTrust,
  generateKeyPair,
  loadSigningKey,
  type SigningKey,
} from '../../../src/index.js';
import { writeFilesAtomicIn } from '../../../src/util/atomic.js';
import {
  locateInRoots,
  openDirectory,
  openFolderInside,
  openOutputFolder,
  resolveRoots,
} from '../../../src/util/dirfd.js';
import { createStagingDir } from '../../../src/util/staging.js';
import { codeOf, errorOf, sampleTask, TASK_ID, tempDir } from '../../helpers/env.js';

let d: string;
let key: SigningKey;
beforeAll(async () => {
  d = await realpath(await tempDir('cot-dirfd-'));
  await generateKeyPair({ type: 'ed25519', out: join(d, 'k'), pubOut: join(d, 'k.pub'), now: new Date() });
  key = await loadSigningKey(join(d, 'k'));
});

const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
afterEach(() => {
  Object.defineProperty(process, 'platform', platform);
});

describe('OpenDirectory', () => {
  it('on Linux, names go through the descriptor: a folder renamed and replaced by a symlink still gets every write', async () => {
    const art = join(d, 'held/art');
    await mkdir(join(art, 'public'), { recursive: true });
    await mkdir(join(d, 'held/victim'));
    await writeFile(join(d, 'held/victim/chain-of-trust.json.sig'), 'VICTIM');
    await writeFile(join(art, 'public/chain-of-trust.json.sig'), 'OLD');
    const out = (await openOutputFolder(join(art, 'public'), await resolveRoots([art])))!;
    try {
      expect(out.pinned).toBe(process.platform === 'linux');
      expect(out.real).toBe(join(art, 'public'));
      // the task swaps the folder after it was opened and checked
      await rename(join(art, 'public'), join(art, 'public-moved'));
      await symlink(join(d, 'held/victim'), join(art, 'public'));
      await writeFilesAtomicIn(
        [
          { folder: out, name: 'chain-of-trust.json', data: 'doc' },
          { folder: out, name: 'chain-of-trust.json.sig', data: 'sig' },
        ],
        { removeFirst: [{ folder: out, name: 'chain-of-trust.json.sig' }] },
      );
    } finally {
      await out.close();
    }
    expect((await readdir(join(art, 'public-moved'))).sort()).toEqual([
      'chain-of-trust.json',
      'chain-of-trust.json.sig',
    ]);
    expect((await readFile(join(art, 'public-moved/chain-of-trust.json.sig'))).toString()).toBe('sig');
    expect(await readdir(join(d, 'held/victim'))).toEqual(['chain-of-trust.json.sig']);
    expect((await readFile(join(d, 'held/victim/chain-of-trust.json.sig'))).toString()).toBe('VICTIM');
    expect(await codeOf(async () => out.at('x'))).toBe('INTERNAL'); // never a path through a closed descriptor
  });

  it('inside a root: every folder on the way is made and opened without following a symlink', async () => {
    const root = join(d, 'walk');
    await mkdir(join(root, 'a'), { recursive: true });
    await mkdir(join(d, 'walk-victim'));
    const roots = await resolveRoots([root]);
    const made = (await openFolderInside(roots[0]!, ['a', 'b', 'c'], join(root, 'a/b/c'), { create: true }))!;
    expect(made.real).toBe(join(root, 'a/b/c'));
    await made.close();
    expect(await openFolderInside(roots[0]!, ['a', 'nope'], join(root, 'a/nope'))).toBeUndefined();
    await symlink(join(d, 'walk-victim'), join(root, 'a/link'));
    const e = await errorOf(
      openFolderInside(roots[0]!, ['a', 'link', 'x'], join(root, 'a/link/x'), { create: true }),
    );
    expect(e.code).toBe('OUTPUT_UNSAFE_FOLDER');
    expect(e.message).toMatch(/a\/link: is a symlink/);
    expect(await readdir(join(d, 'walk-victim'))).toEqual([]); // nothing made through it
    await writeFile(join(root, 'a/file'), 'x');
    expect(await codeOf(openFolderInside(roots[0]!, ['a', 'file'], join(root, 'a/file')))).toBe(
      'OUTPUT_UNSAFE_FOLDER',
    );
  });

  it('outside every root: opened by its path (symlinks above it followed), never a symlink at its last component', async () => {
    const w = join(d, 'own');
    await mkdir(join(w, 'real/out'), { recursive: true });
    await symlink(join(w, 'real'), join(w, 'link'));
    const viaLink = (await openOutputFolder(join(w, 'link/out'), []))!;
    expect(viaLink.real).toBe(join(w, 'real/out'));
    await viaLink.close();
    await symlink(join(w, 'real/out'), join(w, 'out-link'));
    expect(await codeOf(openOutputFolder(join(w, 'out-link'), []))).toBe('OUTPUT_UNSAFE_FOLDER');
    expect(await openOutputFolder(join(w, 'absent'), [])).toBeUndefined();
    const made = (await openOutputFolder(join(w, 'absent/deeper'), [], { create: true }))!;
    expect(made.real).toBe(join(w, 'absent/deeper'));
    await made.close();
    // a worker path that leads into a task folder through a symlink is placed there, and walked from it
    const task = join(w, 'task');
    await mkdir(task);
    await symlink(task, join(w, 'to-task'));
    await symlink(join(w, 'real'), join(task, 'escape'));
    expect(
      await codeOf(
        openOutputFolder(join(w, 'to-task/escape/x'), await resolveRoots([task]), { create: true }),
      ),
    ).toBe('OUTPUT_UNSAFE_FOLDER');
    expect(await readdir(join(w, 'real'))).toEqual(['out']);
  });

  it('locateInRoots: spelled inside, reached through symlinks outside the roots, or not inside at all', async () => {
    const w = join(d, 'locate');
    await mkdir(join(w, 'real/art/public'), { recursive: true });
    await symlink(join(w, 'real'), join(w, 'link'));
    await symlink(join(w, 'real/art'), join(w, 'art-link'));
    const roots = await resolveRoots([join(w, 'link/art')]);
    expect(roots[0]!.real).toBe(join(w, 'real/art'));
    expect(await locateInRoots(join(w, 'link/art/public'), roots)).toMatchObject({ rel: ['public'] });
    expect(await locateInRoots(join(w, 'real/art/public/x'), roots)).toMatchObject({ rel: ['public', 'x'] });
    expect(await locateInRoots(join(w, 'art-link/public/new/deeper'), roots)).toMatchObject({
      rel: ['public', 'new', 'deeper'],
    });
    expect(await locateInRoots(join(w, 'real'), roots)).toBeUndefined();
    expect(await locateInRoots('/', roots)).toBeUndefined();
    // into a root by a symlink whose target then goes back up: refused, never resolved inside the root
    await symlink('art/public/../..', join(w, 'real/up'));
    expect(await codeOf(locateInRoots(join(w, 'real/up/z'), roots))).toBe('OUTPUT_UNSAFE_FOLDER');
  });

  it('without /proc (another platform), names go through the real path checked when it was opened', async () => {
    Object.defineProperty(process, 'platform', { ...platform, value: 'darwin' });
    const dir = await openDirectory(join(d), {});
    try {
      expect(dir.pinned).toBe(false);
      expect(dir.at('x')).toBe(join(d, 'x'));
    } finally {
      await dir.close();
    }
    const art = join(d, 'fallback');
    await mkdir(art);
    await writeFile(join(art, 'a.bin'), 'a');
    const r = await generateChainOfTrust({
      task: sampleTask(),
      taskId: TASK_ID,
      runId: 0,
      workerGroup: 'g',
      workerId: 'w',
      artifactDir: art,
      keys: [key],
      format: 'ed25519',
      outDir: join(art, 'public'),
      now: new Date(),
    });
    expect(Object.keys(r.document.artifacts)).toEqual(['a.bin']);
    expect((await readdir(join(art, 'public'))).sort()).toEqual([
      'chain-of-trust.json',
      'chain-of-trust.json.sig',
    ]);
  });
});

describe('the staging folder', () => {
  it('is never made in a folder others may write without the sticky bit', async () => {
    const open = join(d, 'world-writable');
    await mkdir(open);
    await chmod(open, 0o777);
    const e = await errorOf(createStagingDir(open));
    expect(e.code).toBe('OPTIONS_INVALID');
    expect(e.message).toMatch(/sticky bit/);
    await chmod(open, 0o1777);
    const s = await createStagingDir(open);
    await s.remove();
  });
});
