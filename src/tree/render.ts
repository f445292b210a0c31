import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { CotError } from '../errors.js';
import type { JsonObject, JsonValue } from '../json/parse.js';

/**
 * JSON-e renders, bounded. json-e (Taskcluster's own JavaScript implementation, the npm `json-e` package) renders
 * synchronously and a template is material from a repository: `range(0, 1e9)`, a string doubled thirty times or
 * `$map` nested over large ranges would stall or exhaust the verifier. Each render therefore runs in a separate
 * Node.js process with a heap bound (`--max-old-space-size`), a stack bound and a deadline, and its result is
 * bounded in size; the process is killed at the deadline.
 *
 * Why a process and not a `worker_threads` Worker with `resourceLimits`: V8 aborts the whole process, not the
 * worker, on some allocations a template can ask for (`split` of a 100 MB string: "Fatal JavaScript invalid size
 * error"; `range(0, 1e8)` at some heap limits: "Reached heap limit"), so a worker bound does not protect the
 * verifier. One helper process is started on first use, reused for every render, killed and replaced after a
 * deadline or a crash, and never keeps the verifier alive (unreferenced while idle; it exits when the verifier does).
 */

/** The bounds of one render. */
export interface RenderLimits {
  /** wall-clock deadline of one render in milliseconds (default 2000; a real template renders in a few) */
  deadlineMs?: number;
  /** heap bound of the render process in MiB (default 128) */
  maxHeapMb?: number;
  /** largest rendered result, in characters of its JSON text (default 16 MiB) */
  maxResultChars?: number;
}

const DEFAULT_RENDER_LIMITS: Required<RenderLimits> = {
  deadlineMs: 2000,
  maxHeapMb: 128,
  maxResultChars: 16 * 1024 * 1024,
};

/** How long the render process may take to start (load json-e) before a render is refused. */
const START_DEADLINE_MS = 15_000;

/**
 * What a render needs besides the template: the context (JSON), and the ids `as_slugid(name)` returns
 * (`slugids[name]`, else `slugids.default`), since a function cannot cross to the render process. The reference
 * (populate_jsone_context) defines `as_slugid` this way: `"decision"` is the decision task's id, any other name the
 * parent's.
 */
export interface RenderInput {
  template: JsonValue;
  context: JsonObject;
  slugids?: { default: string; [name: string]: string };
  /** what is rendered, for messages (`.taskcluster.yml`, `the hook payload of action retrigger`) */
  what: string;
}

// The render process: loads json-e, then renders each message it receives. CommonJS, run with `node -e`.
const RENDER_PROCESS_SOURCE = `
const jsone = require(process.argv[1]);
process.on('disconnect', () => process.exit(0));
process.on('message', (m) => {
  let reply;
  try {
    const context = { ...m.context };
    if (m.slugids) {
      const ids = m.slugids;
      context.as_slugid = (name) => (Object.prototype.hasOwnProperty.call(ids, name) ? ids[name] : ids.default);
    }
    const result = jsone(m.template, context);
    const text = JSON.stringify(result === undefined ? null : result);
    if (text.length > m.maxResultChars) reply = { id: m.id, ok: false, limit: true, message: 'the rendered result is ' + text.length + ' characters of JSON, over the bound of ' + m.maxResultChars };
    else reply = { id: m.id, ok: true, text };
  } catch (e) {
    const limit = e instanceof RangeError;
    reply = { id: m.id, ok: false, limit, message: (e && e.name ? e.name + ': ' : '') + String(e && e.message !== undefined ? e.message : e) };
  }
  process.send(reply);
});
process.send({ ready: true });
`;

interface Reply {
  id?: number;
  ready?: boolean;
  ok?: boolean;
  limit?: boolean;
  text?: string;
  message?: string;
}

interface Renderer {
  child: ChildProcess;
  heapMb: number;
  ready: Promise<void>;
  /** the reply handler of the render in flight */
  pending?: (r: Reply | Error) => void;
}

let current: Renderer | undefined;
let queue: Promise<unknown> = Promise.resolve();
let nextId = 1;

function idle(r: Renderer, ref: boolean): void {
  const channel = r.child.channel as { ref(): void; unref(): void } | null | undefined;
  if (ref) {
    r.child.ref();
    channel?.ref();
  } else {
    r.child.unref();
    channel?.unref();
  }
}

/** Start the render process (heap bound `heapMb`), resolved when it has loaded json-e. */
function startRenderer(heapMb: number): Renderer {
  const jsonePath = createRequire(import.meta.url).resolve('json-e');
  const child = spawn(
    process.execPath,
    [`--max-old-space-size=${heapMb}`, '--stack-size=2000', '-e', RENDER_PROCESS_SOURCE, jsonePath],
    { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: {}, serialization: 'json' },
  );
  const r: Renderer = { child, heapMb, ready: Promise.resolve() };
  r.ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the render process did not start in time')),
      START_DEADLINE_MS,
    );
    child.once('message', (m: Reply) => {
      clearTimeout(timer);
      if (m.ready) resolve();
      else reject(new Error('the render process answered before it was ready'));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error('the render process exited while starting'));
    });
  });
  r.ready.catch(() => undefined);
  child.on('message', (m: Reply) => {
    if (m.id !== undefined) r.pending?.(m);
  });
  child.on('exit', (code, signal) => {
    if (current === r) current = undefined;
    r.pending?.(new Error(`the render process ended (${signal ?? `exit code ${code}`})`));
  });
  child.on('error', () => undefined);
  return r;
}

function stop(r: Renderer): void {
  if (current === r) current = undefined;
  r.child.kill('SIGKILL');
}

/** One render on the render process, with its deadline. */
async function renderOnce(input: RenderInput, limits: Required<RenderLimits>): Promise<JsonValue> {
  if (current && current.heapMb !== limits.maxHeapMb) stop(current);
  current ??= startRenderer(limits.maxHeapMb);
  const r = current;
  idle(r, true);
  try {
    try {
      await r.ready;
    } catch (e) {
      stop(r);
      throw new CotError('TREE_RENDER_FAILED', `cannot render ${input.what}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const id = nextId++;
    const reply = await new Promise<Reply | Error>((resolve) => {
      const timer = setTimeout(() => {
        r.pending = undefined;
        stop(r);
        resolve(new Error('deadline'));
      }, limits.deadlineMs);
      r.pending = (m) => {
        clearTimeout(timer);
        r.pending = undefined;
        resolve(m);
      };
      const job = {
        id,
        template: input.template,
        context: input.context,
        slugids: input.slugids,
        maxResultChars: limits.maxResultChars,
      };
      // a process that died since it answered: its exit handler or this callback ends the render
      r.child.send(job, (e) => {
        if (e) r.pending?.(new Error(`the render process could not be reached: ${e.message}`));
      });
    });
    return decodeReply(reply, input, limits);
  } finally {
    if (current === r) idle(r, false);
  }
}

function decodeReply(reply: Reply | Error, input: RenderInput, limits: Required<RenderLimits>): JsonValue {
  if (reply instanceof Error) {
    const message =
      reply.message === 'deadline'
        ? `rendering ${input.what} was stopped at its deadline of ${limits.deadlineMs} ms`
        : `rendering ${input.what} was stopped: ${reply.message} (over its memory bound of ${limits.maxHeapMb} MiB, or a crash)`;
    throw new CotError('TREE_RENDER_LIMIT', message, { details: { ...limits } });
  }
  if (reply.ok && typeof reply.text === 'string') return JSON.parse(reply.text) as JsonValue;
  if (reply.limit)
    throw new CotError('TREE_RENDER_LIMIT', `rendering ${input.what} was stopped: ${reply.message}`, {
      details: { ...limits },
    });
  throw new CotError('TREE_RENDER_FAILED', `JSON-e cannot render ${input.what}: ${reply.message}`, {
    details: { jsonE: reply.message },
  });
}

/**
 * Render `input.template` with `input.context` (and `as_slugid` from `input.slugids`) with json-e, in the render
 * process, within `limits` (DEFAULT_RENDER_LIMITS). Renders are run one at a time, in call order. Resolves to the
 * rendered JSON value. Throws TREE_RENDER_FAILED (a JSON-e error, quoted; the render process cannot start) and
 * TREE_RENDER_LIMIT (the deadline, the heap bound, the result size, or a string or array too long for V8).
 */
export function renderJsonE(input: RenderInput, limits: RenderLimits = {}): Promise<JsonValue> {
  const bounds = { ...DEFAULT_RENDER_LIMITS, ...limits };
  const run = queue.then(() => renderOnce(input, bounds));
  queue = run.catch(() => undefined);
  return run;
}
