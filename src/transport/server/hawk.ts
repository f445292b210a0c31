import type * as http from 'node:http';
import { createRequire } from 'node:module';
import { HttpError, readBody, sameSecret } from './errors.js';

interface HawkCredentials {
  id: string;
  key: string;
  algorithm: string;
}

interface HawkArtifacts {
  ts: string;
  nonce: string;
  hash?: string;
}

interface HawkServer {
  authenticate(
    req: http.IncomingMessage,
    credentialsFunc: (id: string) => Promise<HawkCredentials | undefined>,
    options?: Record<string, unknown>,
  ): Promise<{ credentials: HawkCredentials; artifacts: HawkArtifacts }>;
  authenticatePayload(
    payload: Buffer,
    credentials: HawkCredentials,
    artifacts: HawkArtifacts,
    contentType: string | undefined,
  ): void;
  authenticateBewit(
    req: http.IncomingMessage,
    credentialsFunc: (id: string) => Promise<HawkCredentials | undefined>,
    options?: Record<string, unknown>,
  ): Promise<{ credentials: { id: string } }>;
}

/** Hawk's default allowed clock skew (either way); a nonce is remembered as long as its timestamp is acceptable */
const HAWK_SKEW_SEC = 60;

/**
 * Hawk nonces seen, per client id, kept while their timestamp is still acceptable (ts + skew): a request signed
 * once is accepted once (the Hawk spec's replay protection). Memory is bounded by the requests of one window.
 */
class NonceCache {
  private readonly seen = new Map<string, number>(); // `${id}\0${nonce}` -> forget after (ms)
  private nextSweep = 0;

  constructor(private readonly skewMs: number) {}

  /** Record (id, nonce); false when it was already seen within the window (a replay). */
  claim(id: string, nonce: string, tsSec: number, now = Date.now()): boolean {
    if (now >= this.nextSweep) {
      for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
      this.nextSweep = now + 1000;
    }
    const key = `${id}\0${nonce}`;
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return false;
    this.seen.set(key, Math.max(now, tsSec * 1000) + this.skewMs + 1000);
    return true;
  }
}

/** Temporary credentials of one object upload (what createArtifact(object) hands out). */
export interface TempCredential {
  accessToken: string;
  uploadId: string;
  objectName: string;
}

const failed = (e: unknown) =>
  new HttpError(401, 'AuthenticationFailed', `Hawk authentication failed: ${(e as Error).message}`);

/**
 * Hawk authentication of `cot queue serve` (the Hawk spec; the queue's auth): the configured writer's credentials
 * and the temporary credentials of open object uploads. Every failure is 401 AuthenticationFailed; a client that
 * authenticates but is not the writer is 403 InsufficientScopes (requireWriter).
 */
export class HawkAuth {
  private readonly hawk = (createRequire(import.meta.url)('hawk') as { server: HawkServer }).server;
  private readonly nonces = new NonceCache(HAWK_SKEW_SEC * 1000);

  constructor(
    private readonly writer: { clientId: string; accessToken: string } | undefined,
    /** client id -> the temporary credentials of an object upload */
    readonly tempCreds: Map<string, TempCredential>,
  ) {}

  private readonly lookup = async (id: string): Promise<HawkCredentials | undefined> => {
    if (this.writer && id === this.writer.clientId)
      return { id, key: this.writer.accessToken, algorithm: 'sha256' };
    const t = this.tempCreds.get(id);
    return t ? { id, key: t.accessToken, algorithm: 'sha256' } : undefined;
  };

  /**
   * Authenticate a request (Hawk header or, for GET, a bewit) and read its body (at most `maxBody` bytes). With a
   * header: MAC and timestamp (hawk), then the payload hash when the header has one, then the nonce: only a request
   * that passes all three is recorded, and nothing has happened before it does.
   */
  async authenticate(
    req: http.IncomingMessage,
    maxBody = 1024 * 1024,
  ): Promise<{ id: string; body: Buffer }> {
    const bewit = req.method === 'GET' && /[?&]bewit=/.test(req.url ?? '');
    if (!req.headers.authorization && !bewit)
      throw new HttpError(401, 'AuthenticationFailed', 'this route needs Hawk authentication');
    if (!req.headers.authorization) return this.bewit(req, maxBody);
    let auth: Awaited<ReturnType<HawkServer['authenticate']>>;
    try {
      auth = await this.hawk.authenticate(req, this.lookup, { timestampSkewSec: HAWK_SKEW_SEC });
    } catch (e) {
      throw failed(e);
    }
    const body = await readBody(req, maxBody);
    if (auth.artifacts.hash !== undefined) {
      try {
        this.hawk.authenticatePayload(body, auth.credentials, auth.artifacts, req.headers['content-type']);
      } catch (e) {
        throw failed(e);
      }
    }
    if (!this.nonces.claim(auth.credentials.id, auth.artifacts.nonce, Number(auth.artifacts.ts)))
      throw new HttpError(
        401,
        'AuthenticationFailed',
        'Hawk authentication failed: replayed request (nonce)',
      );
    return { id: auth.credentials.id, body };
  }

  /** A GET authenticated by a bewit in its URL (a signed URL), and its body. */
  private async bewit(req: http.IncomingMessage, maxBody: number): Promise<{ id: string; body: Buffer }> {
    try {
      const { credentials } = await this.hawk.authenticateBewit(req, this.lookup);
      return { id: credentials.id, body: await readBody(req, maxBody) };
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw failed(e);
    }
  }

  /** Authenticate (see authenticate) a request of the configured writer, else 403 InsufficientScopes; its body. */
  async requireWriter(req: http.IncomingMessage, maxBody?: number): Promise<Buffer> {
    const { id, body } = await this.authenticate(req, maxBody);
    if (!this.writer || !sameSecret(id, this.writer.clientId))
      throw new HttpError(403, 'InsufficientScopes', `client ${id} may not create artifacts`);
    return body;
  }
}
