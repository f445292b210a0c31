import type * as http from 'node:http';
import { send } from './errors.js';

/** A fault to inject into the next matching request (tests of retries and robustness). */
export type Fault =
  | { kind: 'status'; status: number }
  | { kind: 'reset' }
  | { kind: 'stall'; ms: number }
  | { kind: 'truncate'; bytes: number }
  /** uploads: read this many bytes of the body, then drop the connection */
  | { kind: 'reset-mid-body'; bytes: number }
  | { kind: 'wrong-length'; extra: number }
  | { kind: 'redirect'; location: string; storageType?: string };

/** Which requests a fault applies to. */
export type FaultTarget =
  | 'task'
  | 'tasks'
  | 'statuses'
  | 'get-artifact'
  | 'content'
  | 'create-artifact'
  | 'upload'
  | 'finish-artifact';

export class FaultPlan {
  private readonly queue = new Map<FaultTarget, Fault[]>();
  /** Inject `fault` into the next `times` requests of `target`. */
  add(target: FaultTarget, fault: Fault, times = 1): this {
    const list = this.queue.get(target) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.queue.set(target, list);
    return this;
  }
  take(target: FaultTarget): Fault | undefined {
    return this.queue.get(target)?.shift();
  }
  clear(): void {
    this.queue.clear();
  }
}

/** Read the request body until `bytes` arrived, then drop the connection (or stop at its end). */
function resetMidBody(req: http.IncomingMessage, bytes: number): Promise<void> {
  let n = 0;
  return new Promise<void>((resolve) => {
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n >= bytes) {
        req.socket.destroy();
        resolve();
      }
    });
    req.on('end', () => resolve());
    req.on('close', () => resolve());
  });
}

/**
 * Apply the next fault planned for `target`, if any. Returns the fault when it answered (or cut) the request, so
 * the route must stop; `stall` waits, then returns undefined (the route carries on, slowly); `truncate` and
 * `wrong-length` are returned untouched for the content route to apply.
 */
export async function applyFault(
  faults: FaultPlan,
  target: FaultTarget,
  res: http.ServerResponse,
): Promise<Fault | undefined> {
  const f = faults.take(target);
  if (!f) return undefined;
  switch (f.kind) {
    case 'status':
      send(res, f.status, { code: 'InjectedFault', message: `injected ${f.status}` });
      return f;
    case 'reset':
      res.socket?.destroy();
      return f;
    case 'reset-mid-body':
      await resetMidBody(res.req, f.bytes);
      return f;
    case 'stall':
      await new Promise((r) => setTimeout(r, f.ms));
      return undefined; // then carry on normally (a slow server)
    case 'redirect':
      res.writeHead(303, {
        location: f.location,
        ...(f.storageType ? { 'x-taskcluster-artifact-storage-type': f.storageType } : {}),
      });
      res.end();
      return f;
    default:
      return f; // truncate / wrong-length: handled by the content route
  }
}
