import { presentLinkSigners } from '../../cot/present-signer.js';
import { verifyLink } from '../../cot/verify.js';
import { COT_ARTIFACT_NAMES, COT_FILE_NAMES } from '../../document/names.js';
import { CotError } from '../../errors.js';
import { digestBytes } from '../../hashing/digest.js';
import { canonicalize } from '../../json/canonical.js';
import { type JsonObject, parseJsonBytes } from '../../json/parse.js';
import { STORED_STORAGE_TYPES, type TaskQueue } from '../../transport/queue.js';
import { mapBounded } from '../../util/concurrency.js';
import { implementationFor, type Policy } from '../policy.js';
import type { ChainCheck, ChainRun, LinkDocument, LinkState } from '../state.js';
import { describeDifferences, jsonDifferences, MAX_DIFFERENCES } from '../task-graph.js';

const MAX_DOC_BYTES = 64 * 1024 * 1024;

/** Read a small artifact (a document, a signature, task-graph.json) whole, bounded. */
export async function readArtifact(
  queue: TaskQueue,
  taskId: string,
  runId: number,
  name: string,
  bounds: Policy['bounds'],
): Promise<Buffer> {
  const opened = await queue.openArtifact(taskId, runId, name, {
    maxBytes: Math.min(bounds.maxBytes, MAX_DOC_BYTES),
    timeoutMs: bounds.timeoutMs,
    deadlineMs: bounds.deadlineMs,
    minBytesPerSecond: bounds.minBytesPerSecond,
  });
  const chunks: Buffer[] = [];
  for await (const c of opened.stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The signed task and the queue's, compared without `priority` (queue changeTaskPriority; it carries no trust). */
function withoutPriority(t: JsonObject): JsonObject {
  const { priority: _p, ...rest } = t;
  return rest;
}

/** A chain-of-trust file present as bytes the queue holds (not an error, reference or link artifact). */
function stored(n: LinkState, name: string): boolean {
  const a = n.listing?.get(name);
  return a !== undefined && STORED_STORAGE_TYPES.has(a.storageType);
}

/** Which document a link is verified by: the formats its run stores, and the one the policy makes us use. */
interface Formats {
  useEd: boolean;
  hasPgp: boolean;
}

/** The format to verify (policy `signatureFormat`; `either` prefers ed25519 when stored), or CHAIN_COT_MISSING. */
function chooseFormat(s: ChainRun, n: LinkState, runId: number): Formats | undefined {
  const { policy } = s;
  const hasEd = stored(n, COT_ARTIFACT_NAMES.json) && stored(n, COT_ARTIFACT_NAMES.sig);
  const hasPgp = stored(n, COT_ARTIFACT_NAMES.openpgp);
  const useEd = policy.signatureFormat === 'ed25519' || (policy.signatureFormat === 'either' && hasEd);
  if ((useEd && !hasEd) || (!useEd && !hasPgp)) {
    const wanted =
      policy.signatureFormat === 'either'
        ? `${COT_ARTIFACT_NAMES.json} + .sig nor ${COT_ARTIFACT_NAMES.openpgp}`
        : useEd
          ? `${COT_ARTIFACT_NAMES.json} + .sig`
          : COT_ARTIFACT_NAMES.openpgp;
    s.fail(n, 'CHAIN_COT_MISSING', `task ${n.link.taskId} run ${runId} has no ${wanted}`);
    return undefined;
  }
  return { useEd, hasPgp };
}

type VerifiedLink = Awaited<ReturnType<typeof verifyLink>> & { file: LinkDocument };

/**
 * Verify the link's document in the chosen format with the implementation's keys. `either`, a run carrying both
 * formats (the 2019 transition): as the reference's hybrid verifier, an ed25519 failure falls back to the OpenPGP
 * document, whose text must then be the unsigned chain-of-trust.json (DOCUMENT_INVALID otherwise).
 */
async function verifyStored(
  s: ChainRun,
  n: LinkState,
  runId: number,
  impl: string,
  f: Formats,
): Promise<VerifiedLink> {
  const { link, task } = n;
  const { policy } = s;
  // a worker cannot sign a task before the queue created it: the signature time is judged against the queue's
  // `created`, never the document's own copy
  const created = typeof task.created === 'string' ? new Date(task.created) : undefined;
  // documents, signatures and task graphs are counted apart from the artifacts consumed (ChainReport stats)
  const read = async (name: string) => {
    const bytes = await readArtifact(s.queue, link.taskId, runId, name, policy.bounds);
    s.documentBytes += bytes.length;
    return bytes;
  };
  const verify = async (ed: boolean): Promise<VerifiedLink> => {
    s.documentsRead++;
    const name = ed ? COT_ARTIFACT_NAMES.json : COT_ARTIFACT_NAMES.openpgp;
    const data = await read(name);
    const v = await verifyLink({
      data,
      ...(ed ? { signature: await read(COT_ARTIFACT_NAMES.sig) } : {}),
      allowedKinds: ed ? ['ed25519'] : ['openpgp-cleartext'],
      ...(created && !Number.isNaN(created.getTime()) ? { taskCreated: created } : {}),
      trust: { store: s.o.trust, implementation: impl },
      at: s.o.at,
      expected: { taskId: link.taskId, runId },
      hashAlgorithms: policy.hashAlgorithms,
      source: `task ${link.taskId} run ${runId}`,
    });
    return { ...v, file: { name, sha256: digestBytes(data) } };
  };
  try {
    return await verify(f.useEd);
  } catch (e) {
    if (!(e instanceof CotError) || !f.useEd || policy.signatureFormat !== 'either' || !f.hasPgp) throw e;
    const v = await verify(false);
    const unsigned = await read(COT_ARTIFACT_NAMES.json);
    let same = false;
    try {
      same =
        canonicalize(parseJsonBytes(unsigned, { source: COT_FILE_NAMES.json })) === canonicalize(v.document);
    } catch {
      same = false;
    }
    if (!same)
      throw new CotError(
        'DOCUMENT_INVALID',
        `task ${link.taskId} run ${runId}: the unsigned ${COT_ARTIFACT_NAMES.json} differs from the text signed in ${COT_ARTIFACT_NAMES.openpgp}`,
      );
    link.checks.push(
      `the ed25519 document was refused (${e.code}); the OpenPGP document verified and carries the same text`,
    );
    return v;
  }
}

/** The signed task equals the queue's, `priority` excepted (CHAIN_TASK_MISMATCH with the differences otherwise). */
function compareSignedTask(s: ChainRun, n: LinkState, signedTask: JsonObject): boolean {
  const signed = withoutPriority(signedTask);
  const queued = withoutPriority(n.task);
  if (canonicalize(signed) === canonicalize(queued)) return true;
  const all = jsonDifferences(signed, queued, MAX_DIFFERENCES + 1);
  const differences = all.slice(0, MAX_DIFFERENCES);
  const truncated = all.length > MAX_DIFFERENCES;
  s.fail(
    n,
    'CHAIN_TASK_MISMATCH',
    `task ${n.link.taskId}: the signed task differs from the queue's (signed vs queue): ${describeDifferences(differences, truncated).join('; ')}`,
    { differences, ...(truncated ? { truncated } : {}) },
  );
  return false;
}

async function verifyDocument(s: ChainRun, n: LinkState): Promise<void> {
  const { link } = n;
  const { policy } = s;
  const impl = implementationFor(policy, link.provisionerId, link.workerType);
  if (!impl) {
    s.fail(
      n,
      'CHAIN_UNKNOWN_WORKER_TYPE',
      `task ${link.taskId}: no worker implementation for ${link.provisionerId}/${link.workerType} in the policy`,
    );
    return;
  }
  link.implementation = impl;
  if (link.role === 'root' && !policy.verifyRootTask) {
    link.checks.push(
      'root task: its own chain-of-trust document is not required by the policy (every other check applies)',
    );
    return;
  }
  if (link.runId === undefined || !n.listing) return; // the run could not be chosen: already reported
  const runId = link.runId;
  const formats = chooseFormat(s, n, runId);
  if (!formats) return;
  const v = await verifyStored(s, n, runId, impl, formats);
  n.doc = v.document;
  link.document = v.file;
  link.signatureKind = v.signatureKind;
  Object.assign(link, presentLinkSigners(v.signers, s.o.at));
  link.checks.push(`signature (${v.signatureKind}) by an allowed ${impl} key`, 'taskId and runId match');
  if (!compareSignedTask(s, n, v.document.task as JsonObject)) return;
  link.checks.push("signed task definition equals the queue's (priority not compared: it carries no trust)");
  n.docOk = true;
}

/**
 * Every link's chain-of-trust document: the worker implementation from the policy's worker-type mapping (never
 * guessed; needed even when the root's document is waived), the files of the format the policy requires among the
 * run's stored artifacts, the signature verified with that implementation's keys only (the trust model), the
 * document's taskId and runId, and the signed task equal to the queue's (stricter than scriptworker, which never
 * compares them; `priority` excepted).
 */
export const verifyDocuments: ChainCheck = {
  name: 'documents',
  async run(s: ChainRun): Promise<void> {
    const nodes = [...s.nodes.values()].filter((n) => n.fetched);
    await mapBounded(nodes, s.policy.bounds.concurrency, async (n) => {
      try {
        await verifyDocument(s, n);
      } catch (e) {
        if (!(e instanceof CotError)) throw e;
        s.failWith(n, e);
      } finally {
        s.linksVerified++;
        s.progress();
      }
    });
  },
};
