import type { FileHandle } from 'node:fs/promises';
import { finished, type Readable } from 'node:stream';

/**
 * Streaming a source in large blocks. Each chunk (64 KiB from a socket) is copied, while still in the CPU's cache,
 * into one of a few fixed blocks (BLOCKS of BLOCK_BYTES, in shared memory, so a worker thread can read a block
 * without a copy). A full block goes, at once and in parallel, to `onBlock` (e.g. a hashing worker) and to the file
 * (one writev of every full block at a time, on libuv's thread pool), while the main thread goes on receiving the
 * next chunks; it is reused once both are done. The chunks die young (cheap to collect), a 1 GiB stream costs a few
 * hundred writes instead of one per chunk, and memory stays bounded: with every block taken, the source is paused
 * (backpressure, as a pipe would).
 */

/** A source as Node's streams give it (a Readable; `destroy` when it has one). */
type Source = NodeJS.ReadableStream & Partial<Pick<Readable, 'destroy'>>;

/** Size of one block. */
const BLOCK_BYTES = 2 * 1024 * 1024;
/** Blocks per stream: up to BLOCKS × BLOCK_BYTES received but not yet written and handed over. */
const BLOCKS = 8;
/**
 * Write-behind: after every SYNC_BEHIND_BYTES written, a datasync is started in the background (one at a time), so
 * the disk writes while the rest arrives and the caller's final fsync has little left to do.
 */
const SYNC_BEHIND_BYTES = 64 * 1024 * 1024;

interface StreamBlocksOptions {
  /** the file to write, from offset 0 */
  fh?: FileHandle;
  /** sees every chunk, in order, as it comes (e.g. a Digester's update); a throw fails the stream */
  onChunk?: (chunk: Buffer) => void;
  /**
   * sees every block, in order, as soon as it is full (the last one possibly shorter); the block (a view of shared
   * memory) is not reused before the returned promise settles; a throw or a rejection fails the stream
   */
  onBlock?: (block: Buffer) => void | Promise<void>;
  /** called once, at once, when the failure is the file's (a write or datasync failed), before the promise rejects */
  onFileError?: (e: unknown) => void;
  /** start background datasyncs while writing (default true) */
  syncBehind?: boolean;
}

/** Drop the first `n` bytes of `bufs` (after a short write). */
function dropBytes(bufs: Buffer[], n: number): Buffer[] {
  let rest = n;
  let i = 0;
  while (i < bufs.length && rest >= bufs[i]!.length) rest -= bufs[i++]!.length;
  const left = bufs.slice(i);
  if (rest > 0) left[0] = left[0]!.subarray(rest);
  return left;
}

/** writev all of `bufs` at `position` (a regular file may take fewer bytes per call). */
async function writevAll(fh: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let rest = bufs;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, at);
    if (bytesWritten <= 0) throw new Error('the file took no bytes');
    at += bytesWritten;
    rest = dropBytes(rest, bytesWritten);
  }
}

/** A full block on its way: written (when there is a file) and handed to onBlock; free again when both are done. */
interface Full {
  block: Buffer;
  /** the bytes of `block` in use */
  data: Buffer;
  /** what is still to be done with it: the write, onBlock */
  busy: number;
}

/** The fixed blocks of one stream: the one being filled, the free ones. */
class Blocks {
  private readonly free: Buffer[] = [];
  private current: Buffer | undefined;
  private fill = 0;

  constructor(private readonly onFull: (block: Buffer, data: Buffer) => void) {
    for (let i = 0; i < BLOCKS; i++) this.free.push(Buffer.from(new SharedArrayBuffer(BLOCK_BYTES)));
  }

  /** Copy `chunk` in; returns the part that did not fit (every block taken), or undefined. */
  copyIn(chunk: Buffer): Buffer | undefined {
    let at = 0;
    while (at < chunk.length) {
      if (!this.current) {
        this.current = this.free.pop();
        this.fill = 0;
        if (!this.current) return chunk.subarray(at);
      }
      const n = chunk.copy(this.current, this.fill, at);
      this.fill += n;
      at += n;
      if (this.fill === BLOCK_BYTES) this.close();
    }
    return undefined;
  }

  /** Hand over the block being filled (at the end: partly filled). */
  close(): void {
    const block = this.current;
    this.current = undefined;
    if (block && this.fill > 0) this.onFull(block, block.subarray(0, this.fill));
    else if (block) this.free.push(block);
  }

  release(block: Buffer): void {
    this.free.push(block);
  }
}

/** One run of streamInBlocks: its blocks, what is in flight, and how it ends. */
class BlockRun {
  /** blocks not yet free again, in order; the first `writeFrom` of them are written (or need no write) */
  private readonly full: Full[] = [];
  private writeFrom = 0;
  /** chunk parts received while every block was taken (the source is paused meanwhile) */
  private waiting: Buffer[] = [];
  received = 0;
  private written = 0;
  private sinceSync = 0;
  private readonly inflight = new Set<Promise<unknown>>();
  private writing = false;
  private syncing = false;
  ended = false;
  failed = false;
  private readonly blocks: Blocks;

  constructor(
    private readonly source: Source,
    private readonly o: StreamBlocksOptions,
    private readonly resolve: (n: number) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.blocks = new Blocks((block, data) => this.handOver(block, data));
  }

  private track(p: Promise<unknown>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
  }

  fail(e: unknown, fileSide: boolean): void {
    if (this.failed) return;
    this.failed = true;
    if (fileSide) this.o.onFileError?.(e);
    this.source.destroy?.();
    void Promise.allSettled([...this.inflight]).then(() => this.reject(e));
  }

  finish(): void {
    if (this.ended && !this.failed && this.full.length === 0 && this.waiting.length === 0 && !this.syncing)
      this.resolve(this.received);
  }

  /** A chunk from the source: to onChunk, then into the blocks (pausing the source when they are all taken). */
  chunk(chunk: Buffer): void {
    this.received += chunk.length;
    this.o.onChunk?.(chunk);
    if (!this.o.fh && !this.o.onBlock) return;
    const rest = this.waiting.length > 0 ? chunk : this.blocks.copyIn(chunk);
    if (!rest) return;
    if (this.waiting.length === 0) this.source.pause();
    this.waiting.push(rest);
  }

  /** The source's end: the last, partly filled block goes too. */
  end(): void {
    this.ended = true;
    if (this.waiting.length === 0) this.blocks.close();
    this.finish();
  }

  /** A full block: to the file and to onBlock at once. */
  private handOver(block: Buffer, data: Buffer): void {
    const { fh, onBlock } = this.o;
    const f: Full = { block, data, busy: (fh ? 1 : 0) + (onBlock ? 1 : 0) };
    this.full.push(f);
    if (fh) this.write(fh);
    else this.writeFrom = this.full.length;
    if (!onBlock) return;
    try {
      this.track(
        Promise.resolve(onBlock(data)).then(
          () => this.done(f),
          (e: unknown) => this.fail(e, false),
        ),
      );
    } catch (e) {
      this.fail(e, false);
    }
  }

  /** One part of a block's work is done; the block is free once all are (blocks free in any order). */
  private done(f: Full): void {
    if (--f.busy > 0) return;
    this.full.splice(this.full.indexOf(f), 1);
    this.writeFrom--;
    this.blocks.release(f.block);
    this.refill();
    this.finish();
  }

  /** Write every full block not yet written, one writev at a time. */
  private write(fh: FileHandle): void {
    if (this.failed || this.writing || this.writeFrom === this.full.length) return;
    const batch = this.full.slice(this.writeFrom);
    this.writeFrom = this.full.length;
    const n = batch.reduce((a, f) => a + f.data.length, 0);
    this.writing = true;
    this.track(
      writevAll(
        fh,
        batch.map((f) => f.data),
        this.written,
      ).then(
        () => {
          this.writing = false;
          this.written += n;
          this.sinceSync += n;
          this.syncBehind(fh);
          this.write(fh);
          for (const f of batch) this.done(f);
        },
        (e: unknown) => this.fail(e, true),
      ),
    );
  }

  private syncBehind(fh: FileHandle): void {
    if (this.o.syncBehind === false || this.syncing || this.sinceSync < SYNC_BEHIND_BYTES) return;
    this.sinceSync = 0;
    this.syncing = true;
    this.track(
      fh.datasync().then(
        () => {
          this.syncing = false;
          this.finish();
        },
        (e: unknown) => this.fail(e, true),
      ),
    );
  }

  /** Copy the waiting parts into free blocks; resume the source once all fit. */
  private refill(): void {
    if (this.failed || this.waiting.length === 0) return;
    const still: Buffer[] = [];
    for (const part of this.waiting) {
      const rest = still.length > 0 ? part : this.blocks.copyIn(part);
      if (rest) still.push(rest);
    }
    this.waiting = still;
    if (still.length > 0) return;
    if (this.ended) this.blocks.close();
    else this.source.resume();
  }
}

/**
 * Consume `source` to its end: every chunk to `onChunk`, and, with a file or `onBlock`, every byte through the
 * blocks to both (see above). Resolves to the byte count once everything is written, handed over and any
 * background datasync is done. On failure (of the source, of `onChunk` or `onBlock`, of a write or a datasync) the
 * source is destroyed and the promise rejects with that error once nothing is in flight any more (the caller may
 * then close and remove the file); `onFileError` says first when it was the file's. A source that closes before
 * its end is an error (ERR_STREAM_PREMATURE_CLOSE). The caller still fsyncs: the background datasyncs only make
 * that fast. A failed datasync fails the stream: after one, the data's durability is unknown (a later fsync may
 * succeed without having written it).
 */
export function streamInBlocks(source: Source, o: StreamBlocksOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const run = new BlockRun(source, o, resolve, reject);
    source.on('data', (c: Buffer | string) => {
      if (run.failed) return;
      const chunk = typeof c === 'string' ? Buffer.from(c) : c;
      if (chunk.length === 0) return;
      try {
        run.chunk(chunk);
      } catch (e) {
        run.fail(e, false);
      }
    });
    finished(source, (e) => {
      if (e) run.fail(e, false);
      else run.end();
    });
  });
}
