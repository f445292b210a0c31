import { createHmac, randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import type * as http from 'node:http';
import { join } from 'node:path';
import type { FileDigest } from '../../hashing/digest.js';
import type { DirectoryQueue } from '../dir-store.js';
import { applyFault, type Fault, type FaultPlan, type FaultTarget } from './faults.js';
import { HawkAuth, type TempCredential } from './hawk.js';

export const API = '/api/queue/v1';
export const OBJECT_API = '/api/object/v1';

/** What createArtifact(s3) issued a `/_upload/<token>` URL for. */
interface S3Upload {
  taskId: string;
  runId: number;
  name: string;
  contentType: string;
}

/** An object artifact between createArtifact(object) and finishArtifact. */
export interface ObjectUpload {
  taskId: string;
  runId: number;
  name: string;
  contentType: string;
  uploadId: string;
  objectName: string;
  /** the latest complete upload of the object's data (a staging file), while the upload is open */
  staged?: string;
  /** set by the first finishUpload: from then on the data are these bytes and cannot change */
  lock?: { staged: string; digests: Promise<FileDigest['digests']> };
  /** a finishUpload's hashes matched the locked bytes */
  finished?: boolean;
  /** finishArtifact's commit (shared by concurrent or repeated calls) */
  commit?: Promise<void>;
}

/** One request being answered: the request, its answer, and its URL taken apart. */
export interface Request {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  /** the path's segments after the leading `/`, percent-decoded */
  parts: string[];
  method: string;
  /** the URL's path, not decoded */
  path: string;
}

/**
 * The state of one `cot queue serve`: the store, the upload tokens and object uploads it handed out, the key that
 * signs private content URLs, and its bounds. Shared by every route.
 */
export class ServerContext {
  /** the server's own URL (http://host:port), set once it listens */
  base = '';
  readonly s3Uploads = new Map<string, S3Upload>(); // /_upload/<token> -> what it may write
  readonly objectUploads = new Map<string, ObjectUpload>(); // uploadId -> object upload
  readonly objectPutTokens = new Map<string, string>(); // /_objput/<token> -> uploadId
  readonly tempCreds = new Map<string, TempCredential>(); // client id -> an object upload's credentials
  readonly auth: HawkAuth;
  readonly staging: string;
  private readonly urlKey = randomBytes(32);

  constructor(
    readonly store: DirectoryQueue,
    readonly faults: FaultPlan,
    /** largest accepted upload, decoded bytes */
    readonly maxUpload: number,
    credentials: { clientId: string; accessToken: string } | undefined,
  ) {
    this.auth = new HawkAuth(credentials, this.tempCreds);
    this.staging = join(store.root, '.cot-staging');
  }

  /** The signature of a private content URL for (taskId, run, name) valid until `exp` (seconds since the epoch). */
  contentSignature(taskId: string, run: number, name: string, exp: number): string {
    return createHmac('sha256', this.urlKey).update(`${taskId}\n${run}\n${name}\n${exp}`).digest('base64url');
  }

  /** A message for a response body: the store's description and any path inside it are this machine's. */
  publicMessage(m: string): string {
    return m.split(this.store.description).join('this queue').split(this.store.root).join('<store>');
  }

  /** Apply the next fault planned for `target` (see applyFault). */
  fault(target: FaultTarget, res: http.ServerResponse): Promise<Fault | undefined> {
    return applyFault(this.faults, target, res);
  }

  /** An open object upload's data are now `staged`; the previous staging file goes. */
  replaceStaged(p: ObjectUpload, staged: string): void {
    const old = p.staged;
    p.staged = staged;
    if (old) unlink(old).catch(() => undefined);
  }

  /** An object upload is committed: its credentials and put URLs are dead. */
  forgetUpload(uploadId: string): void {
    for (const [k, v] of this.tempCreds) if (v.uploadId === uploadId) this.tempCreds.delete(k);
    for (const [k, v] of this.objectPutTokens) if (v === uploadId) this.objectPutTokens.delete(k);
  }
}
