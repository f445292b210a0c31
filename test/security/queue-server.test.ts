/**
 * Attacks on `cot queue serve` (issue 9, section 4: only credential holders write, exactly once). Every test runs
 * the real server on 127.0.0.1 with its own store, and attacks it over real HTTP: the real taskcluster-client where
 * it can express the request, raw node:http, raw sockets or hawk.client where an attacker would hand-craft it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createGzip, gzipSync } from 'node:zlib';
import tc from 'taskcluster-client';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DirectoryQueue,
  type QueueServer,
  type QueueServerOptions,
  startQueueServer,
  TaskclusterQueue,
} from '../../src/queue.js';
import { sampleTask, TASK_ID } from '../helpers/env.js';

const CREDS = { clientId: 'project/cot/worker', accessToken: 'not-a-real-secret-but-long-enough-for-hawk' };
const HAWK_CREDS = { id: CREDS.clientId, key: CREDS.accessToken, algorithm: 'sha256' };
const EXPIRES = '2027-01-01T00:00:00.000Z';
const BIN = 'application/octet-stream';
const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface HawkClient {
  header(
    uri: string,
    method: string,
    options: { credentials: typeof HAWK_CREDS; payload?: string; contentType?: string },
  ): { header: string };
}
const hawkClient = (createRequire(import.meta.url)('hawk') as { client: HawkClient }).client;

// biome-ignore lint/suspicious/noExplicitAny: taskcluster-client ships no types
type Tc = any;

interface Fixture {
  server: QueueServer;
  store: DirectoryQueue;
  staging: string;
  /** the real client, with the writer's credentials */
  queue: Tc;
  artifact(name: string): string;
}

const servers: QueueServer[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A temp folder removed after this file's tests (tests make their own, so tempDir's per-suite hook won't do). */
async function scratch(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'cot-qs-attack-'));
  dirs.push(d);
  return d;
}

/** A fresh store (one task, runs 0 and 1) and a server for it, so staging and artifacts are this test's own. */
async function fixture(options: Partial<QueueServerOptions> = {}): Promise<Fixture> {
  const dir = await scratch();
  const store = new DirectoryQueue(join(dir, 'store'));
  await store.putTask(TASK_ID, sampleTask());
  await store.ensureRun(TASK_ID, 0);
  const server = await startQueueServer({ dir: store.root, credentials: CREDS, ...options });
  servers.push(server);
  const queue = new tc.Queue({ rootUrl: server.rootUrl, credentials: CREDS, retries: 0 });
  return {
    server,
    store,
    staging: join(store.root, '.cot-staging'),
    queue,
    artifact: (name) => store.artifactPath(TASK_ID, 0, name),
  };
}

/** createArtifact(s3) through the real client: the s3-style putUrl for `name` in run 0. */
async function s3PutUrl(f: Fixture, name: string, contentType = BIN): Promise<string> {
  const r = await f.queue.createArtifact(TASK_ID, 0, name, {
    storageType: 's3',
    expires: EXPIRES,
    contentType,
  });
  return r.putUrl as string;
}

interface Reply {
  status: number;
  body: Buffer;
  json(): { code?: string; message?: string; [k: string]: unknown };
}

/** Read a response whole. */
function collect(res: http.IncomingMessage): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const body = Buffer.concat(chunks);
      resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body.toString('utf8')) });
    });
  });
}

/** A hand-crafted request, one connection of its own. */
function raw(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) =>
      collect(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A PUT whose body the test sends by hand (to hold an upload open, or race two). */
function openPut(url: string, length: number, headers: Record<string, string> = {}) {
  const req = http.request(url, {
    method: 'PUT',
    agent: false,
    headers: { 'content-type': BIN, 'content-length': String(length), ...headers },
  });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.on('response', (res) => collect(res).then(resolve, reject));
    req.on('error', reject);
  });
  return { req, reply };
}

/** Bytes the server has staged so far (all files of its staging folder). */
async function stagedBytes(staging: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(staging);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names)
    n += await stat(join(staging, name)).then(
      (s) => s.size,
      () => 0,
    );
  return n;
}

/** Wait until the server has staged `bytes` (proof that it is inside the upload), or fail after 20 s. */
async function untilStaged(staging: string, bytes: number): Promise<void> {
  const give = Date.now() + 20_000;
  while ((await stagedBytes(staging)) < bytes) {
    if (Date.now() > give) throw new Error(`the server never staged ${bytes} bytes`);
    await sleep(10);
  }
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('Hawk: a signed request is accepted once, with the body it signed', () => {
  it('a replayed request (same Authorization header, same nonce) is refused with 401', async () => {
    const f = await fixture();
    const url = `${f.server.rootUrl}/api/queue/v1/task/${TASK_ID}/runs/0/artifacts/public%2Freplayed.bin`;
    const body = JSON.stringify({ storageType: 's3', expires: EXPIRES, contentType: BIN });
    const headers = {
      authorization: hawkClient.header(url, 'POST', { credentials: HAWK_CREDS }).header,
      'content-type': 'application/json',
    };
    const first = await raw('POST', url, headers, body);
    expect(first.status).toBe(200);
    expect(first.json().putUrl).toMatch(/\/_upload\//);
    const replay = await raw('POST', url, headers, body);
    expect(replay.status).toBe(401);
    expect(replay.json()).toMatchObject({ code: 'AuthenticationFailed' });
    expect(replay.json().putUrl).toBeUndefined();
    // a fresh signature (a new nonce), as the client makes on every attempt, is fine
    const fresh = {
      ...headers,
      authorization: hawkClient.header(url, 'POST', { credentials: HAWK_CREDS }).header,
    };
    expect((await raw('POST', url, fresh, body)).status).toBe(200);
  });

  it('a body that does not match the payload hash of a valid header is refused with 401, before any effect', async () => {
    const f = await fixture();
    const url = `${f.server.rootUrl}/api/queue/v1/task/${TASK_ID}/runs/0/artifacts/public%2Fsigned.bin`;
    const signed = JSON.stringify({ storageType: 's3', expires: EXPIRES, contentType: BIN });
    const header = hawkClient.header(url, 'POST', {
      credentials: HAWK_CREDS,
      payload: signed,
      contentType: 'application/json',
    }).header;
    const headers = { authorization: header, 'content-type': 'application/json' };
    const tampered = JSON.stringify({ storageType: 's3', expires: EXPIRES, contentType: 'text/html' });
    const r = await raw('POST', url, headers, tampered);
    expect(r.status).toBe(401);
    expect(r.json()).toMatchObject({ code: 'AuthenticationFailed' });
    expect(r.json().message).toMatch(/payload hash/i);
    // the same header with the body it signed is accepted: the header was valid, only the body was changed
    const genuine = await raw('POST', url, headers, signed);
    expect(genuine.status).toBe(200);
    expect(genuine.json().contentType).toBe(BIN);

    // a body that carries the data: the object service's createUpload with inline data
    const name = 'public/inline.bin';
    const good = Buffer.from('the bytes the worker signed');
    const evil = Buffer.from('bytes swapped in on the wire');
    const created = await f.queue.createArtifact(TASK_ID, 0, name, {
      storageType: 'object',
      expires: EXPIRES,
      contentType: BIN,
    });
    const objectUrl = `${f.server.rootUrl}/api/object/v1/upload/${encodeURIComponent(created.name)}`;
    const uploadBody = (data: Buffer) =>
      JSON.stringify({
        projectId: created.projectId,
        uploadId: created.uploadId,
        expires: EXPIRES,
        proposedUploadMethods: { dataInline: { contentType: BIN, objectData: data.toString('base64') } },
      });
    const objectHeaders = {
      'content-type': 'application/json',
      authorization: hawkClient.header(objectUrl, 'PUT', {
        credentials: {
          id: created.credentials.clientId,
          key: created.credentials.accessToken,
          algorithm: 'sha256',
        },
        payload: uploadBody(good),
        contentType: 'application/json',
      }).header,
    };
    expect((await raw('PUT', objectUrl, objectHeaders, uploadBody(evil))).status).toBe(401);
    expect((await raw('PUT', objectUrl, objectHeaders, uploadBody(good))).status).toBe(200);
    const object = new tc.Object({ rootUrl: f.server.rootUrl, credentials: created.credentials, retries: 0 });
    await object.finishUpload(created.name, {
      projectId: created.projectId,
      uploadId: created.uploadId,
      hashes: { sha256: sha256(good) },
    });
    await f.queue.finishArtifact(TASK_ID, 0, name, { uploadId: created.uploadId });
    expect((await readFile(f.artifact(name))).equals(good)).toBe(true);
  });
});

describe('upload URLs: only the tokens createArtifact(s3) made, once each', () => {
  it('an uploadId, an object put token or a made-up token on the s3 upload route is refused (403), writing nothing', async () => {
    const f = await fixture();
    const name = 'public/object/target.bin';
    const good = randomBytes(64 * 1024);
    const evil = Buffer.from('evil bytes that skip finishUpload');
    const created = await f.queue.createArtifact(TASK_ID, 0, name, {
      storageType: 'object',
      expires: EXPIRES,
      contentType: BIN,
    });
    expect(created.uploadId).toBeTruthy();
    const object = new tc.Object({ rootUrl: f.server.rootUrl, credentials: created.credentials, retries: 0 });
    const upload = await object.createUpload(created.name, {
      projectId: created.projectId,
      uploadId: created.uploadId,
      expires: EXPIRES,
      proposedUploadMethods: { putUrl: { contentType: BIN, contentLength: good.length } },
    });
    const objToken = new URL(upload.uploadMethod.putUrl.url).pathname.split('/').pop()!;
    for (const token of [
      created.uploadId,
      `obj:${objToken}`,
      objToken,
      randomBytes(18).toString('base64url'),
    ]) {
      const r = await raw('PUT', `${f.server.rootUrl}/_upload/${token}`, { 'content-type': BIN }, evil);
      expect(r.status, `token ${token}`).toBe(403);
      expect(r.json()).toMatchObject({ code: 'AccessDenied' });
    }
    expect(await exists(f.artifact(name))).toBe(false);
    // the object upload itself still works, through its own route and finishUpload
    expect((await raw('PUT', upload.uploadMethod.putUrl.url, { 'content-type': BIN }, good)).status).toBe(
      200,
    );
    await object.finishUpload(created.name, {
      projectId: created.projectId,
      uploadId: created.uploadId,
      hashes: { sha256: sha256(good), sha512: sha512(good) },
    });
    await f.queue.finishArtifact(TASK_ID, 0, name, { uploadId: created.uploadId });
    expect((await readFile(f.artifact(name))).equals(good)).toBe(true);
  });

  it('a token is good for one request: a second use while the first is running, or after it, is refused (403)', async () => {
    const f = await fixture();
    const name = 'public/once.bin';
    const putUrl = await s3PutUrl(f, name);
    const mine = randomBytes(1 * MiB);
    const theirs = randomBytes(1 * MiB);
    const first = openPut(putUrl, mine.length);
    first.req.write(mine.subarray(0, mine.length / 2));
    await untilStaged(f.staging, mine.length / 2); // the server is inside the first upload
    const second = await raw('PUT', putUrl, { 'content-type': BIN }, theirs);
    expect(second.status).toBe(403);
    expect(second.json()).toMatchObject({ code: 'AccessDenied' });
    first.req.end(mine.subarray(mine.length / 2));
    expect((await first.reply).status).toBe(200);
    expect((await readFile(f.artifact(name))).equals(mine)).toBe(true);
    // and after it: the same bytes or others, the token is spent
    for (const body of [mine, theirs]) {
      expect((await raw('PUT', putUrl, { 'content-type': BIN }, body)).status).toBe(403);
    }
    expect((await readFile(f.artifact(name))).equals(mine)).toBe(true);
  });
});

describe('object uploads: finishUpload locks the bytes', () => {
  it('a PUT to the put URL or a createUpload after finishUpload cannot change what finishArtifact commits', async () => {
    const f = await fixture();
    const name = 'public/object/locked.bin';
    const good = randomBytes(256 * 1024);
    const evil = randomBytes(256 * 1024);
    const created = await f.queue.createArtifact(TASK_ID, 0, name, {
      storageType: 'object',
      expires: EXPIRES,
      contentType: BIN,
    });
    const object = new tc.Object({ rootUrl: f.server.rootUrl, credentials: created.credentials, retries: 0 });
    const ids = { projectId: created.projectId, uploadId: created.uploadId };
    const upload = await object.createUpload(created.name, {
      ...ids,
      expires: EXPIRES,
      proposedUploadMethods: { putUrl: { contentType: BIN, contentLength: good.length } },
    });
    const putUrl = upload.uploadMethod.putUrl.url as string;
    expect((await raw('PUT', putUrl, { 'content-type': BIN }, good)).status).toBe(200);
    await object.finishUpload(created.name, {
      ...ids,
      hashes: { sha256: sha256(good), sha512: sha512(good) },
    });
    // after finishUpload: the put URL is dead ...
    const late = await raw('PUT', putUrl, { 'content-type': BIN }, evil);
    expect(late.status).toBe(403);
    // ... and createUpload cannot bring other data, inline or by a new put URL
    for (const proposedUploadMethods of [
      { dataInline: { contentType: BIN, objectData: evil.subarray(0, 1000).toString('base64') } },
      { putUrl: { contentType: BIN, contentLength: evil.length } },
    ]) {
      const err = await object
        .createUpload(created.name, { ...ids, expires: EXPIRES, proposedUploadMethods })
        .then(
          () => undefined,
          (e: { statusCode?: number }) => e,
        );
      expect(err?.statusCode).toBe(409);
    }
    // finishUpload again with the other bytes' hashes is a conflict; with the same hashes it is idempotent
    const again = await object.finishUpload(created.name, { ...ids, hashes: { sha256: sha256(evil) } }).then(
      () => undefined,
      (e: { statusCode?: number }) => e,
    );
    expect(again?.statusCode).toBe(409);
    await object.finishUpload(created.name, { ...ids, hashes: { sha256: sha256(good) } });
    await f.queue.finishArtifact(TASK_ID, 0, name, { uploadId: created.uploadId });
    expect((await readFile(f.artifact(name))).equals(good)).toBe(true);
  });
});

describe('artifacts are created once, atomically', () => {
  it('two different uploads of one artifact racing: exactly one 200 and one 409, the stored bytes are the winner', async () => {
    const f = await fixture();
    const size = 2 * MiB;
    for (let round = 0; round < 4; round++) {
      const name = `public/race/${round}.bin`;
      const bodies = [randomBytes(size), randomBytes(size)];
      const urls = [await s3PutUrl(f, name), await s3PutUrl(f, name)];
      const puts = urls.map((u) => openPut(u, size));
      // both bodies all but their last byte; once both are staged, both last bytes at once
      for (const [i, p] of puts.entries()) p.req.write(bodies[i]!.subarray(0, size - 1));
      await untilStaged(f.staging, 2 * (size - 1));
      for (const [i, p] of puts.entries()) p.req.end(bodies[i]!.subarray(size - 1));
      const replies = await Promise.all(puts.map((p) => p.reply));
      const statuses = replies.map((r) => r.status);
      expect([...statuses].sort(), `round ${round}`).toEqual([200, 409]);
      expect(replies[statuses.indexOf(409)]!.json()).toMatchObject({ code: 'RequestConflict' });
      const winner = bodies[statuses.indexOf(200)]!;
      expect((await readFile(f.artifact(name))).equals(winner), `round ${round}`).toBe(true);
    }
    expect(await readdir(f.staging)).toEqual([]);
  });

  it('identical uploads of one artifact, racing or later, are all 200 (retries stay idempotent)', async () => {
    const f = await fixture();
    const name = 'public/same/artifact.bin';
    const size = 2 * MiB;
    const bytes = randomBytes(size);
    const urls = [await s3PutUrl(f, name), await s3PutUrl(f, name)];
    const puts = urls.map((u) => openPut(u, size));
    for (const p of puts) p.req.write(bytes.subarray(0, size - 1));
    await untilStaged(f.staging, 2 * (size - 1));
    for (const p of puts) p.req.end(bytes.subarray(size - 1));
    expect((await Promise.all(puts.map((p) => p.reply))).map((r) => r.status)).toEqual([200, 200]);
    // later, through cot's own client, by both storage types
    const dir = await scratch();
    await writeFile(join(dir, 'same.bin'), bytes);
    const queue = new TaskclusterQueue({ rootUrl: f.server.rootUrl, credentials: CREDS, retries: 0 });
    for (const storageType of ['s3', 'object'] as const) {
      await queue.createArtifact({
        taskId: TASK_ID,
        runId: 0,
        name,
        path: join(dir, 'same.bin'),
        contentType: BIN,
        expires: EXPIRES,
        storageType,
      });
    }
    expect((await readFile(f.artifact(name))).equals(bytes)).toBe(true);
    expect(await readdir(f.staging)).toEqual([]);
  });
});

describe('bounds and deadlines', () => {
  it('a gzip bomb is refused with 413 by its decoded size, never writing more than the bound', async () => {
    const bound = 1 * MiB;
    const f = await fixture({ maxUploadBytes: bound });
    const bomb = gzipSync(Buffer.alloc(64 * MiB)); // about 64 KiB on the wire
    expect(bomb.length).toBeLessThan(bound);
    const name = 'public/bomb.txt';
    const putUrl = await s3PutUrl(f, name, 'text/plain');
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        most = Math.max(most, await stagedBytes(f.staging));
        await sleep(1);
      }
    })();
    const r = await raw(
      'PUT',
      putUrl,
      { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(bomb.length) },
      bomb,
    );
    watching = false;
    await watch;
    expect(r.status).toBe(413);
    expect(r.json()).toMatchObject({ code: 'EntityTooLarge' });
    expect(most).toBeLessThanOrEqual(bound);
    expect(await exists(f.artifact(name))).toBe(false);
    expect(await stagedBytes(f.staging)).toBe(0);
    // gzip under the bound is still fine
    const text = Buffer.from('line\n'.repeat(100_000));
    const ok = await raw(
      'PUT',
      await s3PutUrl(f, 'public/fine.txt', 'text/plain'),
      { 'content-type': 'text/plain', 'content-encoding': 'gzip' },
      gzipSync(text),
    );
    expect(ok.status).toBe(200);
    expect((await readFile(f.artifact('public/fine.txt'))).equals(text)).toBe(true);
  });

  it('slow clients are cut off: trickled headers, a silent connection, a trickled body', async () => {
    const deadline = 1000;
    const f = await fixture({
      headersTimeoutMs: deadline,
      bodyWindowMs: deadline,
      minBodyBytesPerSecond: 1024,
    });
    const { port } = f.server;
    /** Connect, send `first`, then `each` every 200 ms; resolve with ms until the server closed (or undefined). */
    const trickle = (first: string, each: string | undefined, giveUpMs = 10_000) =>
      new Promise<number | undefined>((resolve) => {
        const t0 = Date.now();
        const sock = net.connect(port, '127.0.0.1');
        sock.on('error', () => undefined);
        sock.on('data', () => undefined);
        if (first) sock.write(first);
        const tick = setInterval(() => {
          if (each !== undefined && !sock.destroyed) sock.write(each);
        }, 200);
        const giveUp = setTimeout(() => {
          clearInterval(tick);
          sock.destroy();
          resolve(undefined);
        }, giveUpMs);
        sock.on('close', () => {
          clearInterval(tick);
          clearTimeout(giveUp);
          resolve(Date.now() - t0);
        });
      });
    // the deadline, plus one check interval and generous slack for a loaded machine (the default is 30 s)
    const cutBy = 6 * deadline;
    const headers = await trickle('PUT /api/queue/v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: 1\r\n');
    expect(headers, 'trickled headers').toBeDefined();
    expect(headers!).toBeLessThan(cutBy);
    const silent = await trickle('', undefined);
    expect(silent, 'silent connection').toBeDefined();
    expect(silent!).toBeLessThan(cutBy);
    const name = 'public/slow.bin';
    const token = new URL(await s3PutUrl(f, name)).pathname;
    const body = await trickle(
      `PUT ${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${BIN}\r\nContent-Length: 100000\r\n\r\n`,
      'x',
    );
    expect(body, 'trickled body').toBeDefined();
    expect(body!).toBeLessThan(cutBy);
    expect(await exists(f.artifact(name))).toBe(false);
    // a client at a normal rate is not cut
    const bytes = randomBytes(512 * 1024);
    const steady = await raw('PUT', await s3PutUrl(f, 'public/steady.bin'), { 'content-type': BIN }, bytes);
    expect(steady.status).toBe(200);
    expect((await readFile(f.artifact('public/steady.bin'))).equals(bytes)).toBe(true);
    // and the token of the cut upload is given back for the client's retry (once the server has seen the cut)
    let retried = 0;
    for (let attempt = 0; attempt < 20 && retried !== 200; attempt++) {
      if (attempt > 0) await sleep(100);
      retried = (await raw('PUT', `${f.server.rootUrl}${token}`, { 'content-type': BIN }, bytes)).status;
    }
    expect(retried).toBe(200);
    expect((await readFile(f.artifact(name))).equals(bytes)).toBe(true);
  });
});

describe('memory: an existing artifact is compared by streaming it', () => {
  // a real collection before each measurement, so that garbage of earlier steps is not in the baseline
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  /** Run `fn` while sampling process.memoryUsage().arrayBuffers; the largest growth over the start, bytes. */
  async function peakGrowth(fn: () => Promise<void>): Promise<number> {
    gc();
    const start = process.memoryUsage().arrayBuffers;
    let peak = start;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 1);
    try {
      await fn();
    } finally {
      clearInterval(sampler);
    }
    return Math.max(peak, process.memoryUsage().arrayBuffers) - start;
  }

  it('re-uploads to a 256 MiB artifact do not grow the server by the artifact size; over 2 GiB is never replaced', async () => {
    const f = await fixture();
    const size = 256 * MiB;
    const name = 'public/mem/big.bin';
    await mkdir(dirname(f.artifact(name)), { recursive: true });
    await writeFile(f.artifact(name), '');
    await truncate(f.artifact(name), size); // sparse: 256 MiB of zeros, no disk used
    // other bytes: a conflict, found without reading the artifact
    let r: Reply | undefined;
    const small = await peakGrowth(async () => {
      r = await raw('PUT', await s3PutUrl(f, name), { 'content-type': BIN }, Buffer.from('other bytes'));
    });
    expect(r!.status).toBe(409);
    expect(small).toBeLessThan(size / 4);
    // the same bytes (zeros, gzip on the wire): 200, both files hashed as streams
    const zeros = Buffer.alloc(MiB);
    const gz: Buffer[] = [];
    const gzip = createGzip();
    gzip.on('data', (c: Buffer) => gz.push(c));
    for (let i = 0; i < size / MiB; i++) gzip.write(zeros);
    await new Promise<void>((resolve) => gzip.end(resolve));
    const wire = Buffer.concat(gz);
    const putUrl = await s3PutUrl(f, name);
    const same = await peakGrowth(async () => {
      r = await raw('PUT', putUrl, { 'content-type': BIN, 'content-encoding': 'gzip' }, wire);
    });
    expect(r!.status).toBe(200);
    expect(same).toBeLessThan(size / 2);
    expect((await stat(f.artifact(name))).size).toBe(size);
    // an artifact too large to read into memory at all (over 2 GiB) is still an artifact: never replaced
    const huge = 'public/mem/huge.bin';
    await writeFile(f.artifact(huge), '');
    await truncate(f.artifact(huge), 3 * 1024 * MiB);
    const over = await raw('PUT', await s3PutUrl(f, huge), { 'content-type': BIN }, Buffer.from('small'));
    expect(over.status).toBe(409);
    expect((await stat(f.artifact(huge))).size).toBe(3 * 1024 * MiB);
  }, 180_000); // hashing 2 × 256 MiB on a loaded machine: a hang guard, not a speed target
});
