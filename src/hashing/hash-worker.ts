import { availableParallelism } from 'node:os';
import { finished, type Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError } from '../errors.js';
import type { FileDigest } from './digest.js';

/**
 * Large downloads are hashed, and written, on a worker thread: the main thread only receives the bytes (Node's HTTP
 * client is not cheap: about as much CPU as sha256 itself) and hands them over in batches, so both cores work, as
 * in `curl | tee FILE | openssl dgst`. The worker writes each chunk with its own write(2) of at most WRITE_BYTES:
 * one large write makes the kernel take large page-cache folios, which on a virtual machine whose free memory is
 * given back to the host cost several times more to fill (measured here: 3 s of system time per GiB in 2 MiB
 * writes against 0.4 s in 32-64 KiB writes).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { fdatasync, writeSync } = require('node:fs');
const { algorithms, fd, writeBytes, syncBehindBytes } = workerData;
const hashes = algorithms.map((a) => createHash(a));
let size = 0;
let sinceSync = 0;
let syncing = false;
let ending = false;
let failed = false;
const fail = (e) => {
  failed = true;
  parentPort.postMessage({ error: { message: e.message, code: e.code }, file: true });
};
const end = () => {
  if (failed || syncing) return;
  parentPort.postMessage({ digests: hashes.map((h) => h.digest('hex')), size });
};
const write = (c) => {
  for (let at = 0; at < c.length; ) {
    const n = writeSync(fd, c, at, Math.min(writeBytes, c.length - at), size + at);
    if (n <= 0) throw new Error('the file took no bytes');
    at += n;
  }
};
parentPort.on('message', (m) => {
  if (failed) return;
  if (m === null) {
    ending = true;
    end();
    return;
  }
  const n = m.length;
  const block = new Uint8Array(m.block, 0, n);
  try {
    for (const h of hashes) h.update(block);
    if (fd !== undefined) write(block);
  } catch (e) {
    fail(e);
    return;
  }
  size += n;
  parentPort.postMessage({ block: m.block }, [m.block]);
  sinceSync += n;
  if (fd === undefined || syncing || sinceSync < syncBehindBytes) return;
  sinceSync = 0;
  syncing = true;
  fdatasync(fd, (e) => {
    syncing = false;
    if (e) fail(e);
    else if (ending) end();
  });
});
`;

/** Downloads of at least this many bytes (when the length is known) go through the worker; smaller ones are hashed inline. */
export const WORKER_HASH_MIN_BYTES = 16 * 1024 * 1024;
/**
 * Hash workers at once, at most one per core (more would only compete for the same cores, and each costs memory):
 * a download that finds none free is hashed inline. `take` returns false when none is free.
 */
export const hashWorkerSlots = {
  used: 0,
  take(): boolean {
    if (this.used >= availableParallelism()) return false;
    this.used++;
    return true;
  },
  release(): void {
    this.used = Math.max(0, this.used - 1);
  },
};
/** The bytes go to the worker in blocks of this size (moved, not copied, to the worker and back). */
const BLOCK_BYTES = 1024 * 1024;
/** Blocks at most: with all of them at the worker, the source is paused until one comes back. */
const MAX_BLOCKS = 8;
/** Largest single write(2) of the worker (see above). */
const WRITE_BYTES = 64 * 1024;
/**
 * Write-behind: after every this many bytes written the worker starts a datasync in the background (one at a time),
 * so the disk writes while the rest arrives and the caller's final fsync has little left to do.
 */
const SYNC_BEHIND_BYTES = 64 * 1024 * 1024;

interface HashInWorkerOptions {
  /** an open file to write the bytes to, from offset 0 (the caller opens, fsyncs and closes it) */
  fd?: number;
  /** called at once when the failure is the file's (a write or a datasync failed), before the promise rejects */
  onFileError?: (e: Error) => void;
}

type WorkerMessage =
  | { block: ArrayBuffer }
  | { digests: string[]; size: number }
  | { error: { message: string; code?: string }; file: boolean };

/**
 * One run of hashInWorker. Chunks are gathered into batches of at most BLOCK_BYTES (kept as they came: the newest
 * chunks stay referenced until their batch is copied, which keeps the allocator reusing their memory instead of
 * faulting in fresh pages); a full batch is copied into a free block, which is moved to the worker and comes back
 * once hashed and written.
 */
class WorkerRun {
  private readonly worker: Worker;
  private readonly free: ArrayBuffer[] = [];
  private blocks = 0;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  /** full batches waiting for a block (the source is paused while there are any) */
  private readonly full: { chunks: Buffer[]; bytes: number }[] = [];
  private paused = false;
  private ended = false;
  private endSent = false;
  settled = false;

  constructor(
    private readonly source: Readable,
    private readonly algorithms: readonly HashAlgorithm[],
    private readonly o: HashInWorkerOptions,
    private readonly resolve: (d: FileDigest) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        algorithms: [...algorithms],
        fd: o.fd,
        writeBytes: WRITE_BYTES,
        syncBehindBytes: SYNC_BEHIND_BYTES,
      },
    });
    this.worker.on('message', (m: WorkerMessage) => this.message(m));
    const stop = (why: string) => this.fail(new CotError('INTERNAL', `the hashing worker ${why}`), false);
    this.worker.on('error', (e) => stop(`failed: ${e.message}`));
    this.worker.on('messageerror', (e) => stop(`could not read a message: ${e.message}`));
    this.worker.on('exit', (code) => stop(`exited (code ${code})`));
  }

  /** End: the worker is stopped first (no write of it runs any more when the caller closes the file). */
  private settle(then: () => void): void {
    this.settled = true;
    void this.worker.terminate().then(then, then);
  }

  fail(e: unknown, fileSide: boolean): void {
    if (this.settled) return;
    if (fileSide) this.o.onFileError?.(e as Error);
    this.source.destroy();
    this.settle(() => this.reject(e));
  }

  private message(m: WorkerMessage): void {
    if (this.settled) return;
    if ('block' in m) {
      this.free.push(m.block);
      this.send();
    } else if ('digests' in m) {
      const digests: FileDigest['digests'] = {};
      this.algorithms.forEach((a, i) => {
        digests[a] = m.digests[i]!;
      });
      this.settle(() => this.resolve({ digests, size: m.size }));
    } else {
      const e = Object.assign(new Error(m.error.message), m.error.code ? { code: m.error.code } : {});
      this.fail(e, m.file);
    }
  }

  /** A chunk of the source (cut to BLOCK_BYTES pieces, views, when larger) into the batch. */
  chunk(c: Buffer): void {
    for (let at = 0; at < c.length; at += BLOCK_BYTES) {
      const part = c.length <= BLOCK_BYTES ? c : c.subarray(at, at + BLOCK_BYTES);
      if (this.batchBytes + part.length > BLOCK_BYTES) this.closeBatch();
      this.batch.push(part);
      this.batchBytes += part.length;
    }
    if (this.batchBytes === BLOCK_BYTES) this.closeBatch();
    this.send();
  }

  private closeBatch(): void {
    if (this.batchBytes === 0) return;
    this.full.push({ chunks: this.batch, bytes: this.batchBytes });
    this.batch = [];
    this.batchBytes = 0;
  }

  /** Copy full batches into free blocks and move them to the worker; pause or resume the source; at the end, finish. */
  private send(): void {
    while (this.full.length > 0) {
      let block = this.free.pop();
      if (!block && this.blocks < MAX_BLOCKS) {
        block = new ArrayBuffer(BLOCK_BYTES);
        this.blocks++;
      }
      if (!block) break;
      const { chunks, bytes } = this.full.shift()!;
      const view = new Uint8Array(block);
      let at = 0;
      for (const c of chunks) {
        view.set(c, at);
        at += c.length;
      }
      this.worker.postMessage({ block, length: bytes }, [block]);
    }
    if (this.full.length > 0 && !this.paused && !this.ended) {
      this.paused = true;
      this.source.pause();
    } else if (this.full.length === 0 && this.paused) {
      this.paused = false;
      this.source.resume();
    }
    if (this.ended && this.full.length === 0 && !this.endSent) {
      this.endSent = true;
      this.worker.postMessage(null);
    }
  }

  end(): void {
    this.ended = true;
    this.closeBatch();
    this.send();
  }
}

/**
 * Hash `source` to its end on a worker thread, every algorithm of `algorithms`, and with `o.fd` write the bytes to
 * that file from offset 0 (in the same pass, exactly the bytes hashed). Memory stays bounded: with more than
 * MAX_OUTSTANDING_BYTES handed over and not yet done, the source is paused (backpressure, as a pipe would).
 * Resolves to the digests and size once every byte is hashed and written and no background datasync is running
 * (the caller still fsyncs the file: the worker's datasyncs only make that fast). On failure (of the source, of a
 * write or a datasync: `onFileError` is called first, of the worker: INTERNAL) the source is destroyed and the
 * worker stopped before the promise rejects with the error as is. A source that closes before its end is an error
 * (ERR_STREAM_PREMATURE_CLOSE). A failed datasync fails the write: after one, the data's durability is unknown (a
 * later fsync may succeed without having written it).
 */
export function hashInWorker(
  source: Readable,
  algorithms: readonly HashAlgorithm[],
  o: HashInWorkerOptions = {},
): Promise<FileDigest> {
  return new Promise<FileDigest>((resolve, reject) => {
    let run: WorkerRun;
    try {
      run = new WorkerRun(source, algorithms, o, resolve, reject);
    } catch (e) {
      source.destroy();
      reject(
        new CotError('INTERNAL', `cannot start the hashing worker: ${(e as Error).message}`, { cause: e }),
      );
      return;
    }
    source.on('data', (c: Buffer | string) => {
      if (!run.settled) run.chunk(typeof c === 'string' ? Buffer.from(c) : c);
    });
    finished(source, (e) => {
      if (e) run.fail(e, false);
      else if (!run.settled) run.end();
    });
  });
}
