import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tc from 'taskcluster-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashWorkerSlots, WORKER_HASH_MIN_BYTES } from '../../src/hashing/hash-worker.js';
import {
  DirectoryQueue,
  downloadArtifact,
  type QueueServer,
  startQueueServer,
  TaskclusterQueue,
} from '../../src/queue.js';
import { FaultPlan } from '../../src/testing.js';
import { httpGet } from '../../src/transport/http.js';
import { codeOf, errorOf, sampleTask, TASK_ID, tempDir } from '../helpers/env.js';

// Real HTTP on 127.0.0.1, the real taskcluster-client, no fakes.
const CREDS = { clientId: 'project/cot/worker', accessToken: 'not-a-real-secret-but-long-enough-for-hawk' };
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
let server: QueueServer;
let store: DirectoryQueue;
let queue: TaskclusterQueue;
const big = randomBytes(3 * 1024 * 1024 + 17);
// large enough to be hashed on a worker thread, and served in several reused chunks
const large = randomBytes(WORKER_HASH_MIN_BYTES + 4 * 1024 * 1024 + 3);

beforeAll(async () => {
  dir = await tempDir();
  store = new DirectoryQueue(join(dir, 'store'));
  await store.putTask(TASK_ID, sampleTask());
  await store.ensureRun(TASK_ID, 0);
  await store.ensureRun(TASK_ID, 1);
  await writeFile(join(dir, 'big.bin'), big);
  await writeFile(join(dir, 'log.txt'), 'line\n'.repeat(10_000));
  await store.createArtifact({
    taskId: TASK_ID,
    runId: 1,
    name: 'public/build/big.bin',
    path: join(dir, 'big.bin'),
    contentType: 'application/octet-stream',
    expires: '2027-01-01T00:00:00Z',
  });
  await store.createArtifact({
    taskId: TASK_ID,
    runId: 1,
    name: 'public/logs/live.log',
    path: join(dir, 'log.txt'),
    contentType: 'text/plain',
    expires: '2027-01-01T00:00:00Z',
  });
  await store.createArtifact({
    taskId: TASK_ID,
    runId: 1,
    name: 'private/secret.txt',
    path: join(dir, 'log.txt'),
    contentType: 'text/plain',
    expires: '2027-01-01T00:00:00Z',
  });
  for (const [name, bytes] of [
    ['public/build/large.bin', large],
    ['public/build/empty.bin', Buffer.alloc(0)],
  ] as const) {
    const path = join(dir, name.replaceAll('/', '-'));
    await writeFile(path, bytes);
    await store.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name,
      path,
      contentType: 'application/octet-stream',
      expires: '2027-01-01T00:00:00Z',
    });
  }
  server = await startQueueServer({ dir: join(dir, 'store'), credentials: CREDS, faults: new FaultPlan() });
  queue = new TaskclusterQueue({ rootUrl: server.rootUrl, credentials: CREDS, retries: 3, retryDelayMs: 5 });
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.faults.clear());

describe('reading through the real client', () => {
  it('serves task definitions, runs and artifact lists', async () => {
    expect((await queue.task(TASK_ID)).workerType).toBe('b-linux');
    expect(await queue.latestRunId(TASK_ID)).toBe(1);
    expect((await queue.listArtifacts(TASK_ID, 1)).map((a) => a.name)).toEqual([
      'private/secret.txt',
      'public/build/big.bin',
      'public/logs/live.log',
    ]);
    expect(await codeOf(queue.task('Se-5NNn4TB65_9383YGsJA'))).toBe('QUEUE_NOT_FOUND');
    const client = new tc.Queue({ rootUrl: server.rootUrl });
    const r = await client.getArtifact(TASK_ID, 1, 'public/build/big.bin');
    expect(r.storageType).toBe('s3'); // the 303 body, as the real queue answers
  });

  it('downloads by following the 303, hashing in one pass; gzip content-encoding decoded', async () => {
    const d = await downloadArtifact(queue, TASK_ID, undefined, 'public/build/big.bin', {
      expected: { sha256: sha256(big) },
      dest: join(dir, 'dl/big.bin'),
    });
    expect(d).toMatchObject({ runId: 1, size: big.length });
    expect((await readFile(join(dir, 'dl/big.bin'))).equals(big)).toBe(true);
    const log = await downloadArtifact(queue, TASK_ID, 1, 'public/logs/live.log');
    expect(log.digests.sha256).toBe(sha256(await readFile(join(dir, 'log.txt'))));
    const raw = await httpGet(
      `${server.rootUrl}/api/queue/v1/task/${TASK_ID}/runs/1/artifacts/public%2Flogs%2Flive.log`,
    );
    expect(raw.headers['content-encoding']).toBe('gzip');
  });

  it('a large artifact: hashed on a worker while written, every bound kept; an empty one', async () => {
    const sha512 = createHash('sha512').update(large).digest('hex');
    const d = await downloadArtifact(queue, TASK_ID, 0, 'public/build/large.bin', {
      expected: { sha256: sha256(large), sha512 },
      dest: join(dir, 'dl-large/large.bin'),
    });
    expect(d).toMatchObject({ runId: 0, size: large.length, digests: { sha256: sha256(large), sha512 } });
    expect((await readFile(join(dir, 'dl-large/large.bin'))).equals(large)).toBe(true);
    const plain = await downloadArtifact(queue, TASK_ID, 0, 'public/build/large.bin');
    expect(plain).toMatchObject({ size: large.length, digests: { sha256: sha256(large) } });
    // every worker taken (other large downloads at once): hashed inline, the same result
    const taken: boolean[] = [];
    while (hashWorkerSlots.take()) taken.push(true);
    try {
      const inline = await downloadArtifact(queue, TASK_ID, 0, 'public/build/large.bin', {
        expected: { sha256: sha256(large) },
        dest: join(dir, 'dl-large/inline.bin'),
      });
      expect(inline.size).toBe(large.length);
      expect((await readFile(join(dir, 'dl-large/inline.bin'))).equals(large)).toBe(true);
    } finally {
      for (const _ of taken) hashWorkerSlots.release();
    }
    expect(hashWorkerSlots.used).toBe(0);
    // failures leave nothing at the destination: no file, no temp file
    const dest = join(dir, 'dl-large2/large.bin');
    const fails = {
      mismatch: { expected: { sha256: sha256(big) }, dest },
      tooLarge: { maxBytes: large.length - 1, dest },
    };
    expect(await codeOf(downloadArtifact(queue, TASK_ID, 0, 'public/build/large.bin', fails.mismatch))).toBe(
      'HASH_MISMATCH',
    );
    expect(await codeOf(downloadArtifact(queue, TASK_ID, 0, 'public/build/large.bin', fails.tooLarge))).toBe(
      'TRANSPORT_TOO_LARGE',
    );
    server.faults.add('content', { kind: 'truncate', bytes: 9 * 1024 * 1024 + 5 });
    expect(await codeOf(downloadArtifact(queue, TASK_ID, 0, 'public/build/large.bin', { dest }))).toBe(
      'TRANSPORT_NETWORK',
    );
    expect(await readdir(join(dir, 'dl-large2'))).toEqual([]);
    const empty = await downloadArtifact(queue, TASK_ID, 0, 'public/build/empty.bin', {
      dest: join(dir, 'dl-large/empty.bin'),
    });
    expect(empty).toMatchObject({ size: 0, digests: { sha256: sha256(Buffer.alloc(0)) } });
    expect((await readFile(join(dir, 'dl-large/empty.bin'))).length).toBe(0);
    // every download gave its worker back, the failed ones too
    expect(hashWorkerSlots.used).toBe(0);
  });

  it('a wrong expected digest: HASH_MISMATCH and nothing written at the destination', async () => {
    const err = await errorOf(
      downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin', {
        expected: { sha256: '0'.repeat(64) },
        dest: join(dir, 'dl2/big.bin'),
      }),
    );
    expect(err.code).toBe('HASH_MISMATCH');
    expect(await readdir(join(dir, 'dl2'))).toEqual([]);
  });

  it('private artifacts need credentials', async () => {
    const anon = new TaskclusterQueue({ rootUrl: server.rootUrl, retries: 0 });
    expect(await codeOf(downloadArtifact(anon, TASK_ID, 1, 'private/secret.txt'))).toBe('TRANSPORT_AUTH');
    await downloadArtifact(queue, TASK_ID, 1, 'private/secret.txt');
    // the content URL of a private artifact is signed, like a presigned storage URL
    expect(
      await codeOf(httpGet(`${server.rootUrl}/_content/${TASK_ID}/1/private/secret.txt`, { retries: 0 })),
    ).toBe('TRANSPORT_AUTH');
  });

  it('download bounds: max bytes, truncated body, wrong length, stall, disallowed redirect, 5xx storm', async () => {
    expect(
      await codeOf(downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin', { maxBytes: 1024 })),
    ).toBe('TRANSPORT_TOO_LARGE');
    server.faults.add('content', { kind: 'truncate', bytes: 1000 });
    expect(await codeOf(downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin'))).toBe(
      'TRANSPORT_NETWORK',
    );
    server.faults.add('content', { kind: 'wrong-length', extra: 10 });
    expect(await codeOf(downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin'))).toBe(
      'TRANSPORT_NETWORK',
    );
    // a server that stalls on every attempt (the client retries a timeout 3 times)
    server.faults.add('content', { kind: 'stall', ms: 700 }, 4);
    expect(
      await codeOf(downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin', { timeoutMs: 200 })),
    ).toBe('TRANSPORT_NETWORK');
    server.faults.clear();
    // a single stall is retried and the download completes
    server.faults.add('content', { kind: 'stall', ms: 700 });
    await downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin', {
      timeoutMs: 200,
      expected: { sha256: sha256(big) },
    });
    server.faults.add('get-artifact', {
      kind: 'redirect',
      location: 'http://169.254.169.254/latest/meta-data/',
    });
    expect(await codeOf(downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin'))).toBe(
      'TRANSPORT_REDIRECT_REFUSED',
    );
    // a reference artifact (a URL the task chose), even on an allowed host, is refused unless allowed
    const content = `${server.rootUrl}/_content/${TASK_ID}/1/public/build/big.bin`;
    server.faults.add('get-artifact', { kind: 'redirect', location: content, storageType: 'reference' });
    expect(await codeOf(downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin'))).toBe(
      'TRANSPORT_REDIRECT_REFUSED',
    );
    const lenient = new TaskclusterQueue({
      rootUrl: server.rootUrl,
      credentials: CREDS,
      retries: 3,
      retryDelayMs: 5,
      allowReferenceArtifacts: true,
    });
    server.faults.add('get-artifact', { kind: 'redirect', location: content, storageType: 'reference' });
    await downloadArtifact(lenient, TASK_ID, 1, 'public/build/big.bin', {
      expected: { sha256: sha256(big) },
    });
    server.faults.add('content', { kind: 'status', status: 503 }, 10);
    expect(await codeOf(downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin'))).toBe('TRANSPORT_HTTP');
    server.faults.clear();
    server.faults.add('content', { kind: 'status', status: 502 }, 2);
    await downloadArtifact(queue, TASK_ID, 1, 'public/build/big.bin', { expected: { sha256: sha256(big) } });
  });
});

describe('uploading through the real client', () => {
  it('s3 and object storage types round-trip exactly the bytes, gzip on the wire for s3', async () => {
    await queue.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/a/s3.bin',
      path: join(dir, 'big.bin'),
      contentType: 'application/octet-stream',
      expires: '2027-01-01T00:00:00Z',
      storageType: 's3',
    });
    await queue.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/a/log.txt',
      path: join(dir, 'log.txt'),
      contentType: 'text/plain',
      expires: '2027-01-01T00:00:00Z',
      storageType: 's3',
      gzip: true,
    });
    await queue.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/a/object.bin',
      path: join(dir, 'big.bin'),
      contentType: 'application/octet-stream',
      expires: '2027-01-01T00:00:00Z',
      storageType: 'object',
    });
    await writeFile(join(dir, 'small.json'), '{"a": 1}');
    await queue.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/a/small.json',
      path: join(dir, 'small.json'),
      contentType: 'text/plain',
      expires: '2027-01-01T00:00:00Z',
      storageType: 'object',
    });
    const art = (n: string) => readFile(store.artifactPath(TASK_ID, 0, n));
    expect((await art('public/a/s3.bin')).equals(big)).toBe(true);
    expect((await art('public/a/log.txt')).equals(await readFile(join(dir, 'log.txt')))).toBe(true);
    expect((await art('public/a/object.bin')).equals(big)).toBe(true);
    expect((await art('public/a/small.json')).toString()).toBe('{"a": 1}');
  });

  it('refuses unsigned, wrongly signed and unknown-client writes with 401/403, writing nothing', async () => {
    const anon = new TaskclusterQueue({ rootUrl: server.rootUrl, retries: 0 });
    const wrong = new TaskclusterQueue({
      rootUrl: server.rootUrl,
      credentials: { ...CREDS, accessToken: 'wrong-token-wrong-token-wrong-token' },
      retries: 0,
    });
    const other = new TaskclusterQueue({
      rootUrl: server.rootUrl,
      credentials: { clientId: 'someone-else', accessToken: 'x'.repeat(40) },
      retries: 0,
    });
    for (const q of [anon, wrong, other]) {
      expect(
        await codeOf(
          q.createArtifact({
            taskId: TASK_ID,
            runId: 0,
            name: 'public/evil.bin',
            path: join(dir, 'big.bin'),
            contentType: 'application/octet-stream',
            expires: '2027-01-01T00:00:00Z',
          }),
        ),
      ).toBe('TRANSPORT_AUTH');
    }
    expect((await queue.listArtifacts(TASK_ID, 0)).map((a) => a.name)).not.toContain('public/evil.bin');
  });

  it('retries 5xx and connection resets, then stores exactly the signed bytes; 409 on different content', async () => {
    server.faults.add('upload', { kind: 'status', status: 500 }, 2).add('upload', { kind: 'reset' });
    await queue.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/b/retried.bin',
      path: join(dir, 'big.bin'),
      contentType: 'application/octet-stream',
      expires: '2027-01-01T00:00:00Z',
    });
    expect((await readFile(store.artifactPath(TASK_ID, 0, 'public/b/retried.bin'))).equals(big)).toBe(true);
    // a connection dropped mid-body, then a server that stalls past the client's timeout: retried, exact bytes stored
    server.faults.add('upload', { kind: 'reset-mid-body', bytes: 1024 * 1024 });
    await queue.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/b/mid-body.bin',
      path: join(dir, 'big.bin'),
      contentType: 'application/octet-stream',
      expires: '2027-01-01T00:00:00Z',
    });
    expect((await readFile(store.artifactPath(TASK_ID, 0, 'public/b/mid-body.bin'))).equals(big)).toBe(true);
    const impatient = new TaskclusterQueue({
      rootUrl: server.rootUrl,
      credentials: CREDS,
      retries: 3,
      retryDelayMs: 5,
      uploadTimeoutMs: 300,
    });
    server.faults.add('upload', { kind: 'stall', ms: 1500 });
    await impatient.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/b/stalled.bin',
      path: join(dir, 'big.bin'),
      contentType: 'application/octet-stream',
      expires: '2027-01-01T00:00:00Z',
    });
    expect((await readFile(store.artifactPath(TASK_ID, 0, 'public/b/stalled.bin'))).equals(big)).toBe(true);
    expect((await readdir(join(dir, 'store/.cot-staging'))).filter((f) => !f.startsWith('.'))).toEqual([]);
    server.faults.add('upload', { kind: 'status', status: 500 }, 10);
    expect(
      await codeOf(
        queue.createArtifact({
          taskId: TASK_ID,
          runId: 0,
          name: 'public/b/storm.bin',
          path: join(dir, 'big.bin'),
          contentType: 'application/octet-stream',
          expires: '2027-01-01T00:00:00Z',
        }),
      ),
    ).toBe('TRANSPORT_HTTP');
    await expect(readFile(store.artifactPath(TASK_ID, 0, 'public/b/storm.bin'))).rejects.toThrow();
    server.faults.clear();
    expect(
      await codeOf(
        queue.createArtifact({
          taskId: TASK_ID,
          runId: 0,
          name: 'public/b/retried.bin',
          path: join(dir, 'log.txt'),
          contentType: 'application/octet-stream',
          expires: '2027-01-01T00:00:00Z',
        }),
      ),
    ).toBe('TRANSPORT_CONFLICT');
    // an identical retry is idempotent
    await queue.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/b/retried.bin',
      path: join(dir, 'big.bin'),
      contentType: 'application/octet-stream',
      expires: '2027-01-01T00:00:00Z',
    });
  });

  it('an artifact changed between hashing and upload is stopped (s3: error after the PUT; object: never finished)', async () => {
    const expectedSha256 = sha256(big);
    await writeFile(join(dir, 'changing.bin'), Buffer.concat([big, Buffer.from('x')]));
    for (const storageType of ['s3', 'object'] as const) {
      const err = await errorOf(
        queue.createArtifact({
          taskId: TASK_ID,
          runId: 0,
          name: `public/c/${storageType}.bin`,
          path: join(dir, 'changing.bin'),
          contentType: 'application/octet-stream',
          expires: '2027-01-01T00:00:00Z',
          storageType,
          expectedSha256,
        }),
      );
      expect(err.code).toBe('ARTIFACT_CHANGED');
    }
    // an object upload that was never finished is not an artifact
    expect((await queue.listArtifacts(TASK_ID, 0)).map((a) => a.name)).not.toContain('public/c/object.bin');
    await queue.createArtifact({
      taskId: TASK_ID,
      runId: 0,
      name: 'public/c/same.bin',
      path: join(dir, 'big.bin'),
      contentType: 'application/octet-stream',
      expires: '2027-01-01T00:00:00Z',
      storageType: 'object',
      expectedSha256,
    });
  });

  it('refuses artifacts expiring after the task, and runs that do not exist', async () => {
    expect(
      await codeOf(
        queue.createArtifact({
          taskId: TASK_ID,
          runId: 0,
          name: 'public/late.bin',
          path: join(dir, 'big.bin'),
          contentType: 'application/octet-stream',
          expires: '2099-01-01T00:00:00Z',
        }),
      ),
      // a 400 no retry can fix: bad input (exit 4), not TRANSPORT_HTTP (exit 3) as before issue 10
    ).toBe('QUEUE_REQUEST_REFUSED');
    expect(
      await codeOf(
        queue.createArtifact({
          taskId: TASK_ID,
          runId: 7,
          name: 'public/x.bin',
          path: join(dir, 'big.bin'),
          contentType: 'application/octet-stream',
          expires: '2027-01-01T00:00:00Z',
        }),
      ),
    ).toBe('TRANSPORT_CONFLICT');
  });
});
