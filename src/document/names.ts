/**
 * The names of every file the chain of trust defines, in one place: the artifacts a worker uploads (names in the
 * queue, `public/...`), the files the generator writes in its output folder (their basenames), and the files a task
 * or decision task leaves for it. The artifact names are the reference implementation's (scriptworker
 * `cot/verify.py`, generic-worker and docker-worker `chain_of_trust.go` / `chain_of_trust.js`).
 */

/** The chain-of-trust document's own artifact names: never listed in a document, never claimable. */
export const COT_ARTIFACT_NAMES = {
  /** OpenPGP cleartext-signed document (docker-worker, generic-worker before 2019, scriptworker) */
  openpgp: 'public/chainOfTrust.json.asc',
  /** the unsigned canonical document, signed by the raw ed25519 signature beside it */
  json: 'public/chain-of-trust.json',
  /** raw 64-byte ed25519 signature of `json` */
  sig: 'public/chain-of-trust.json.sig',
} as const;

export const RESERVED_ARTIFACT_NAMES: ReadonlySet<string> = new Set(Object.values(COT_ARTIFACT_NAMES));

/** Where the generator writes, by format: the basenames inside the output folder (= artifacts public/...). */
export const COT_FILE_NAMES = {
  openpgp: 'chainOfTrust.json.asc',
  json: 'chain-of-trust.json',
  sig: 'chain-of-trust.json.sig',
} as const;

/** The certified log's artifact name (a frozen copy of the task log, listed in the document). */
export const CERTIFIED_LOG_NAME = 'public/logs/certified.log';

/** The certified log inside the output folder: `<out>/logs/certified.log`. */
export const CERTIFIED_LOG_FILE = { folder: 'logs', name: 'certified.log' } as const;

/** A decision or action task's task graph (taskgraph `taskgraph.json`), which the verifier checks its children against. */
export const TASK_GRAPH_NAME = 'public/task-graph.json';

/** The file a task writes in its task folder to add data to its worker's document (generic-worker's name). */
export const ADDITIONAL_DATA_FILE = 'chain-of-trust-additional-data.json';

/**
 * Whether a name listed from a folder of downloaded artifacts is a chain-of-trust file rather than an artifact: one
 * of RESERVED_ARTIFACT_NAMES, or their file names at the top of the folder (`chain-of-trust.json`: the folder given
 * is `public/` itself, one level too deep). A verifier skips them; they are never listed in a document.
 */
export function isChainOfTrustFile(name: string): boolean {
  return RESERVED_ARTIFACT_NAMES.has(name) || RESERVED_ARTIFACT_NAMES.has(`public/${name}`);
}
