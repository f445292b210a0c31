import { Worker } from 'node:worker_threads';
import type { HashAlgorithm } from '../document/schema.js';
import { CotError } from '../errors.js';
import type { FileDigest } from './digest.js';

/**
 * The hashing worker: the same node:crypto hashes as Digester, fed with blocks of shared memory (no copy), one
 * answer per block (0), the hex digests at the end (on `null`). A CommonJS script run with `eval`, so that it needs
 * no file of its own next to the compiled module.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = workerData.map((a) => createHash(a));
parentPort.on('message', (m) => {
  if (m === null) parentPort.postMessage(hashes.map((h) => h.digest('hex')));
  else {
    for (const h of hashes) h.update(m);
    parentPort.postMessage(0);
  }
});
`;

/**
 * Downloads at least this large (when their length is known) are hashed by a WorkerDigester: on another core than
 * the one receiving the bytes. Smaller ones are hashed inline (Digester): a worker takes tens of ms to start.
 */
export const WORKER_DIGEST_MIN_BYTES = 16 * 1024 * 1024;

/**
 * Digester's work on a worker thread: `update` hands a block over (a view of a SharedArrayBuffer, which must not
 * change until the returned promise resolves: the block is hashed then) and the blocks are hashed in the order
 * given; `result` gives the digests and size. `close` ends the worker (always call it, also after `result`: it
 * holds the process open otherwise). A failed or ended worker rejects every pending and later call with INTERNAL.
 */
export class WorkerDigester {
  /** bytes handed over so far */
  size = 0;
  private readonly worker: Worker;
  private readonly acks: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private final: { resolve: (d: string[]) => void; reject: (e: Error) => void } | undefined;
  private failure: CotError | undefined;

  constructor(readonly algorithms: readonly HashAlgorithm[]) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: [...algorithms] });
    this.worker.on('message', (m: unknown) => {
      if (Array.isArray(m)) this.final?.resolve(m as string[]);
      else this.acks.shift()?.resolve();
    });
    const stop = (why: string) => this.fail(new CotError('INTERNAL', `the hashing worker ${why}`));
    this.worker.on('error', (e) => stop(`failed: ${e.message}`));
    this.worker.on('messageerror', (e) => stop(`could not read a message: ${e.message}`));
    this.worker.on('exit', (code) => stop(`exited (code ${code})`));
  }

  private fail(e: CotError): void {
    this.failure ??= e;
    for (const a of this.acks.splice(0)) a.reject(this.failure);
    this.final?.reject(this.failure);
    this.final = undefined;
  }

  /** Hash `block` next; resolves once it is hashed (the block may then be reused). */
  update(block: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.size += block.length;
    return new Promise<void>((resolve, reject) => {
      this.acks.push({ resolve, reject });
      this.worker.postMessage(block);
    });
  }

  /** The lowercase hex digests and the size, once every block handed over is hashed; call once, at the end. */
  async result(): Promise<FileDigest> {
    if (this.failure) throw this.failure;
    const hex = await new Promise<string[]>((resolve, reject) => {
      this.final = { resolve, reject };
      this.worker.postMessage(null);
    });
    const digests: FileDigest['digests'] = {};
    this.algorithms.forEach((a, i) => {
      digests[a] = hex[i]!;
    });
    return { digests, size: this.size };
  }

  /** End the worker; pending calls reject (INTERNAL). */
  async close(): Promise<void> {
    this.fail(new CotError('INTERNAL', 'the hashing worker was closed'));
    await this.worker.terminate();
  }
}
