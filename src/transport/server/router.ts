import type * as http from 'node:http';
import { batchRoute } from './batch-routes.js';
import { content } from './content-route.js';
import { API, OBJECT_API, type Request, type ServerContext } from './context.js';
import { errorReply, HttpError, send } from './errors.js';
import { taskRoutes } from './queue-routes.js';
import { createUpload, finishUpload, objectPut, s3Upload } from './upload-routes.js';

/** The request's URL taken apart (a malformed percent-encoding throws URIError: a 500, as before). */
function parse(ctx: ServerContext, req: http.IncomingMessage, res: http.ServerResponse): Request {
  const url = new URL(req.url ?? '/', ctx.base);
  return {
    req,
    res,
    url,
    parts: url.pathname.split('/').slice(1).map(decodeURIComponent),
    method: req.method ?? 'GET',
    path: url.pathname,
  };
}

/**
 * Route one request: the queue's ping and task routes, its batch reads (`tasks`, `statuses`), the s3-style upload
 * target, the object service's upload calls, the content URLs; anything else is 404 ResourceNotFound.
 */
async function route(ctx: ServerContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const r = parse(ctx, req, res);
  const { path, method } = r;
  if (path === `${API}/ping`) return send(res, 200, { alive: true, uptime: process.uptime() });
  if (path.startsWith(`${API}/task/`)) return taskRoutes(ctx, r);
  if (path === `${API}/tasks` && method === 'POST') return batchRoute(ctx, r, 'tasks');
  if (path === `${API}/tasks/status` && method === 'POST') return batchRoute(ctx, r, 'statuses');
  if (path.startsWith('/_upload/') && method === 'PUT') return s3Upload(ctx, r);
  if (path.startsWith(`${OBJECT_API}/upload/`) && method === 'PUT') return createUpload(ctx, r);
  if (path.startsWith('/_objput/') && method === 'PUT') return objectPut(ctx, r);
  if (path.startsWith(`${OBJECT_API}/finish-upload/`) && method === 'POST') return finishUpload(ctx, r);
  if (path.startsWith('/_content/') && method === 'GET') return content(ctx, r);
  throw new HttpError(404, 'ResourceNotFound', `no route ${method} ${path}`);
}

/**
 * Answer one request; a failure becomes the queue's error answer (errorReply: its own error names, never a path of
 * this machine), or, once the answer has started, a closed connection.
 */
export function handle(ctx: ServerContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  route(ctx, req, res).catch((e: unknown) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const { status, code, message } = errorReply(e, (m) => ctx.publicMessage(m));
    send(res, status, { code, message });
  });
}
