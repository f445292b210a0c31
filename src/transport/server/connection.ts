import type * as http from 'node:http';
import type { Socket } from 'node:net';

/**
 * A request body must keep arriving: checked once per `windowMs` on the socket's byte count, at least
 * `minRate` × window bytes, else the connection is closed. Bytes waiting for the server to read them mean the
 * server is the slow one, so no cut then.
 */
export function guardBody(req: http.IncomingMessage, minRate: number, windowMs: number): void {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody || req.complete) return;
  const sock = req.socket;
  const need = (minRate * windowMs) / 1000;
  let mark = sock.bytesRead;
  const timer = setInterval(() => {
    if (req.complete || sock.destroyed) {
      clearInterval(timer);
      return;
    }
    const got = sock.bytesRead - mark;
    mark = sock.bytesRead;
    if (got >= need || req.readableLength > 0) return;
    clearInterval(timer);
    sock.destroy();
  }, windowMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  req.once('end', stop);
  req.once('close', stop);
}

/**
 * Node's header deadline (`server.headersTimeout`, which answers 408) starts with the first byte: a connection that
 * stays silent for `ms` is closed here.
 */
export function closeSilentConnections(server: http.Server, ms: number): void {
  server.on('connection', (sock: Socket) => {
    const timer = setTimeout(() => {
      if (sock.bytesRead === 0) sock.destroy();
    }, ms);
    timer.unref();
    sock.once('close', () => clearTimeout(timer));
  });
}
