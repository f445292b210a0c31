/**
 * Content types of artifacts, in one place: what the directory store reports and `cot queue serve` serves
 * (contentTypeFor) and what uploads declare and gzip (uploadContentType). The rule follows the Taskcluster workers
 * (generic-worker, docker-worker): text artifacts are text/plain, anything else application/octet-stream.
 */

/** text/plain for JSON, OpenPGP armor, logs and other text; application/octet-stream otherwise (.sig, binaries). */
export function contentTypeFor(name: string): string {
  if (/\.(json|asc|log|txt|diff|yml|yaml)$/.test(name)) return 'text/plain';
  return 'application/octet-stream';
}

/**
 * Content type of an upload, and whether it is gzipped on the wire (text is; the stored artifact stays the
 * original bytes): text/plain for .json, .asc and logs; application/octet-stream for .sig and binaries.
 */
export function uploadContentType(name: string): { contentType: string; gzip: boolean } {
  const contentType = contentTypeFor(name);
  return { contentType, gzip: contentType === 'text/plain' };
}

/** Whether a request's Accept-Encoding allows a gzip answer for the artifact `name` (text only). */
export function gzipAllowed(acceptEncoding: string | undefined, name: string): boolean {
  return /\bgzip\b/.test(acceptEncoding ?? '') && contentTypeFor(name) === 'text/plain';
}
