import { obj, parentOf } from '../chain/edges.js';
import type { ChainLink, ChainReport } from '../chain/verify-chain.js';
import type { CotDocument } from '../document/document.js';
import { CotError } from '../errors.js';
import { digestBytes } from '../hashing/digest.js';
import { canonicalize } from '../json/canonical.js';
import type { JsonObject, JsonValue } from '../json/parse.js';
import { isGithubUrl } from '../tree/github.js';

/** in-toto Statement v1 (in-toto attestation spec v1, statement.md): `_type`. */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** SLSA Provenance v1 (slsa.dev/spec/v1.0/provenance): predicateType. */
export const PROVENANCE_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
/** SLSA Verification Summary Attestation v1 (slsa.dev/spec/v1.0/verification_summary): predicateType. */
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';

/**
 * The buildType cot defines for a Taskcluster task whose chain of trust was verified (README, "Attestations": what
 * each field of externalParameters and internalParameters holds). Versioned: a change of meaning is a new URI.
 */
export const TASKCLUSTER_BUILD_TYPE = 'https://cot.invalid/attestations/taskcluster-task/v1';
/** The prefix of builder ids: `<prefix>/<worker implementation>/<provisionerId>/<workerType>`. */
export const TASKCLUSTER_BUILDER_PREFIX = 'https://cot.invalid/attestations/builder';
/** The verifier id of cot's verification summaries, unless the caller names another. */
export const COT_VERIFIER_ID = 'https://cot.invalid/attestations/verifier/cot';
/** The SLSA level the verification summary of a chain that verified asserts (README, "SLSA levels"). */
export const VERIFIED_LEVEL = 'SLSA_BUILD_LEVEL_2';

/** An in-toto ResourceDescriptor v1 (resource_descriptor.md): at least one of uri, digest, content. */
export interface ResourceDescriptor {
  name?: string;
  uri?: string;
  digest?: Record<string, string>;
  downloadLocation?: string;
  mediaType?: string;
  annotations?: Record<string, JsonValue>;
}

/** An in-toto Statement v1 with its predicate. */
export interface InTotoStatement {
  _type: typeof STATEMENT_TYPE;
  subject: ResourceDescriptor[];
  predicateType: string;
  predicate: JsonObject;
}

/** The digests of the DigestSet algorithms cot hashes with (sha256, sha512), as the signed document lists them. */
function digestSet(entry: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const alg of ['sha256', 'sha512']) if (entry?.[alg]) out[alg] = entry[alg]!.toLowerCase();
  return out;
}

/** One subject per artifact of a verified document, sorted by name (in-toto: subjects carry a digest). */
function subjectsOf(doc: CotDocument): ResourceDescriptor[] {
  return Object.keys(doc.artifacts)
    .sort()
    .map((name) => ({ name, digest: digestSet(doc.artifacts[name]) }))
    .filter((s) => Object.keys(s.digest).length > 0);
}

/** `rootUrl` without trailing slashes, or undefined. */
function base(rootUrl: string | undefined): string | undefined {
  return rootUrl?.replace(/\/+$/, '') || undefined;
}

/** The queue URL of an artifact of a run (Taskcluster queue v1 `getArtifact`), when the root URL is known. */
function artifactUrl(rootUrl: string | undefined, taskId: string, runId: number | undefined, name: string) {
  const b = base(rootUrl);
  if (!b) return undefined;
  const path = name.split('/').map(encodeURIComponent).join('/');
  return runId === undefined
    ? `${b}/api/queue/v1/task/${taskId}/artifacts/${path}`
    : `${b}/api/queue/v1/task/${taskId}/runs/${runId}/artifacts/${path}`;
}

/**
 * The URI of a task: its page in the deployment's web UI (`<rootUrl>/tasks/<taskId>`) when the root URL is known,
 * else `urn:taskcluster:task:<taskId>` (a chain read from a directory store does not know its deployment).
 */
export function taskUri(rootUrl: string | undefined, taskId: string): string {
  const b = base(rootUrl);
  return b ? `${b}/tasks/${taskId}` : `urn:taskcluster:task:${taskId}`;
}

/** Where the chain traced its root to: the repository and revision of the parent whose rebuild matched. */
export interface SourceTrace {
  traced: boolean;
  /** traced: the repository URL and revision (`<PREFIX>_HEAD_REPOSITORY`, `_HEAD_REV`) and tasks_for */
  repository?: string;
  revision?: string;
  tasksFor?: string;
  /** the decision, cron or action task rebuilt from that tree */
  parentTaskId?: string;
  /** not traced: why */
  reason?: string;
}

/**
 * The source the root task traces to: the rebuild of its parent (or of itself, for a decision task) from the
 * repository's `.taskcluster.yml`, when it matched (ChainLink.tree.rebuild, checks/tree-rebuild.ts). Untraced
 * otherwise, with the reason.
 */
export function sourceOf(report: ChainReport): SourceTrace {
  const doc = report.rootEvidence?.document;
  if (!doc) return { traced: false, reason: "the root task's document was not verified" };
  const p = parentOf(report.root, doc.task as JsonObject);
  const parentId = p.self ? report.root : p.id;
  const parent = report.links.find((l) => l.taskId === parentId);
  const rebuild = parent?.tree?.rebuild;
  if (!parent || !rebuild)
    return {
      traced: false,
      reason: parent
        ? `its parent ${parent.taskId} was not rebuilt from its tree (the policy has no tree section, or no tree material)`
        : 'its parent task is not part of the chain',
    };
  if (!rebuild.matched || !rebuild.revision)
    return { traced: false, reason: `the rebuild of its parent ${parent.taskId} did not match` };
  return {
    traced: true,
    repository: rebuild.repository,
    revision: rebuild.revision,
    tasksFor: rebuild.tasksFor,
    parentTaskId: parent.taskId,
  };
}

/** The source revision as a ResourceDescriptor (SPDX download location form; gitCommit for a GitHub repository). */
function sourceDependency(src: SourceTrace): ResourceDescriptor | undefined {
  if (!src.traced || !src.repository || !src.revision) return undefined;
  // git exactly when the rebuild read the repository as GitHub's (tree/context.ts onGithub), else hg
  const git = isGithubUrl(src.repository);
  const repo = src.repository.replace(/\/+$/, '');
  return {
    name: 'source',
    uri: `${git ? 'git' : 'hg'}+${repo}@${src.revision}`,
    ...(git && /^[0-9a-f]{40}$/i.test(src.revision)
      ? { digest: { gitCommit: src.revision.toLowerCase() } }
      : {}),
    annotations: {
      repository: src.repository,
      revision: src.revision,
      ...(src.tasksFor ? { tasksFor: src.tasksFor } : {}),
    },
  };
}

function rootLink(report: ChainReport): ChainLink | undefined {
  return report.links.find((l) => l.taskId === report.root);
}

/** The artifacts the root consumed directly (verified downloads) and its docker image, as ResourceDescriptors. */
function consumedDependencies(
  report: ChainReport,
  link: ChainLink | undefined,
  rootUrl?: string,
): ResourceDescriptor[] {
  const runOf = new Map(report.links.map((l) => [l.taskId, l.runId]));
  /** an artifact of a task of the chain, with the digests its producer signed */
  const dependency = (
    taskId: string,
    artifact: string,
    digest: Record<string, string>,
    annotations: Record<string, JsonValue> = {},
  ): ResourceDescriptor => {
    const runId = runOf.get(taskId);
    const uri = artifactUrl(rootUrl, taskId, runId, artifact);
    return {
      name: artifact,
      ...(uri ? { uri } : {}),
      digest: digestSet(digest),
      annotations: { taskId, ...(runId !== undefined ? { runId } : {}), ...annotations },
    };
  };
  const consumed = link?.consumed ?? [];
  const out = consumed.map((c) => dependency(c.taskId, c.artifact, c.digest));
  const image = link?.image;
  if (
    image?.verified &&
    image.taskId &&
    image.artifact &&
    image.digest &&
    !consumed.some((c) => c.taskId === image.taskId && c.artifact === image.artifact)
  )
    out.push(dependency(image.taskId, image.artifact, image.digest, { dockerImage: true }));
  return out;
}

/** A docker image the chain did not build but the worker signed the hash of (docker-worker `imageHash`). */
function signedImage(doc: CotDocument, link: ChainLink | undefined): ResourceDescriptor | undefined {
  const image = link?.image;
  if (!image || image.verified || image.type === 'none') return undefined;
  const hash = obj(doc.environment)?.imageHash;
  const m = typeof hash === 'string' ? /^sha256:([0-9a-f]{64})$/i.exec(hash) : null;
  if (!m) return undefined;
  return {
    name: image.name ?? 'docker-image',
    digest: { sha256: m[1]!.toLowerCase() },
    annotations: {
      dockerImage: true,
      type: image.type,
      source: "environment.imageHash of the worker's signed document",
    },
  };
}

/** An RFC 3339 date-time, in UTC (`Z`) or with an offset. */
const RFC3339_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A run time from the queue's status (unsigned, as the queue wrote it) as SLSA wants it: an RFC 3339 time in UTC as
 * given, one with an offset converted to UTC, anything else (not a time, not a real date) undefined: left out, never
 * guessed.
 */
function utcTime(v: string | undefined): string | undefined {
  if (v === undefined || !RFC3339_TIME.test(v)) return undefined;
  const t = new Date(v);
  if (Number.isNaN(t.getTime())) return undefined;
  return v.endsWith('Z') ? v : t.toISOString();
}

/** What buildProvenance needs besides the report. */
export interface ProvenanceOptions {
  /** the Taskcluster root URL the chain was read from: artifact and task URIs (absent: names, annotations only) */
  rootUrl?: string;
}

/**
 * An in-toto Statement v1 with a SLSA Provenance v1 predicate for the root task of a chain that verified, made
 * from what the verification checked (README "Attestations" maps every field):
 *   subject         the root's artifacts with the digests its signed chain-of-trust document lists
 *   buildType       TASKCLUSTER_BUILD_TYPE
 *   externalParameters  `task` (the signed task definition), `source` (SourceTrace: the repository and revision its
 *                   parent was rebuilt from, or `traced: false` and why: then the statement names no source revision
 *                   of its own; the signed task may still mention one, in `metadata.source`)
 *   internalParameters  taskId, runId, taskGroupId, provisionerId, workerType, workerGroup, workerId, environment
 *                   (as the worker signed them), and the root URL when known
 *   resolvedDependencies  the artifacts the root consumed (verified downloads), its docker image (a task-image with
 *                   its signed digest, or docker-worker's signed imageHash), and the traced source revision
 *   runDetails      builder.id `<TASKCLUSTER_BUILDER_PREFIX>/<implementation>/<provisionerId>/<workerType>`;
 *                   metadata.invocationId `<taskId>/<runId>`, startedOn/finishedOn the run's `started` and
 *                   `resolved` from the queue's status, in UTC (omitted when the status lacks them or they are not
 *                   RFC 3339 times); byproducts: the
 *                   chain-of-trust document verified, with its digest
 * Pure. Throws CHAIN_VERIFICATION_FAILED when the report did not verify (no provenance for an unverified chain)
 * and ATTEST_NO_SUBJECT when the root's own document was not verified.
 */
export function buildProvenance(report: ChainReport, o: ProvenanceOptions = {}): InTotoStatement {
  if (!report.ok)
    throw new CotError(
      'CHAIN_VERIFICATION_FAILED',
      `the chain of task ${report.root} did not verify (${report.errors.length} failure${report.errors.length === 1 ? '' : 's'}): no provenance is made for it`,
    );
  const ev = report.rootEvidence;
  if (!ev)
    throw new CotError(
      'ATTEST_NO_SUBJECT',
      `task ${report.root}: its own chain-of-trust document was not verified (the policy's verifyRootTask is false), so its artifacts have no signed digests to attest`,
    );
  const doc = ev.document;
  const link = rootLink(report);
  const subject = subjectsOf(doc);
  if (subject.length === 0)
    throw new CotError('ATTEST_NO_SUBJECT', `task ${report.root}: its signed document lists no artifact`);
  const task = doc.task as JsonObject;
  const provisionerId = link?.provisionerId ?? '';
  const workerType = link?.workerType ?? '';
  const source = sourceOf(report);
  const run = ev.status?.runs?.find((r) => r.runId === doc.runId);
  const startedOn = utcTime(run?.started);
  const finishedOn = utcTime(run?.resolved);
  const deps = consumedDependencies(report, link, o.rootUrl);
  const image = signedImage(doc, link);
  if (image) deps.push(image);
  const src = sourceDependency(source);
  if (src) deps.push(src);
  const docUri = link?.document
    ? artifactUrl(o.rootUrl, report.root, doc.runId, link.document.name)
    : undefined;
  const predicate = {
    buildDefinition: {
      buildType: TASKCLUSTER_BUILD_TYPE,
      externalParameters: { task, source: { ...source } } as unknown as JsonObject,
      internalParameters: {
        taskId: doc.taskId,
        runId: doc.runId,
        ...(typeof task.taskGroupId === 'string' ? { taskGroupId: task.taskGroupId } : {}),
        provisionerId,
        workerType,
        workerGroup: doc.workerGroup,
        workerId: doc.workerId,
        environment: doc.environment,
        ...(base(o.rootUrl) ? { rootUrl: base(o.rootUrl)! } : {}),
      },
      resolvedDependencies: deps as unknown as JsonValue[],
    },
    runDetails: {
      builder: {
        id: `${TASKCLUSTER_BUILDER_PREFIX}/${encodeURIComponent(link?.implementation ?? 'unknown')}/${encodeURIComponent(provisionerId)}/${encodeURIComponent(workerType)}`,
      },
      metadata: {
        invocationId: `${doc.taskId}/${doc.runId}`,
        ...(startedOn ? { startedOn } : {}),
        ...(finishedOn ? { finishedOn } : {}),
      },
      ...(link?.document
        ? {
            byproducts: [
              {
                name: link.document.name,
                ...(docUri ? { uri: docUri } : {}),
                digest: { sha256: link.document.sha256 },
                annotations: { chainOfTrust: true, signatureKind: link.signatureKind ?? '' },
              },
            ],
          }
        : {}),
    },
  };
  return { _type: STATEMENT_TYPE, subject, predicateType: PROVENANCE_PREDICATE_TYPE, predicate };
}

/**
 * The policy a verification summary names (VSA v1.0: a ResourceDescriptor that MUST have a uri): the policy file's
 * URI and name, a digest over it and its trust files, the files.
 */
export interface VsaPolicy {
  name: string;
  uri: string;
  digest: { sha256: string };
  annotations?: Record<string, JsonValue>;
}

/** What buildVerificationSummary needs besides the report. */
export interface VerificationSummaryOptions {
  /** the verifier: its id (default COT_VERIFIER_ID) and versions (`{ cot: '0.1.0' }`) */
  verifier: { id?: string; version: Record<string, string> };
  policy: VsaPolicy;
  /** the Taskcluster root URL: resourceUri and input attestation URIs (absent: `urn:taskcluster:task:<taskId>`) */
  rootUrl?: string;
  /**
   * the policy waives the root task's own document (`verifyRootTask: false`, a task verifying its inputs before
   * it runs): the subjects are then the artifacts it consumes that the chain verified. Default false: a root whose
   * own document did not verify has no subject (ATTEST_NO_SUBJECT), never its inputs in its place.
   */
  rootDocumentWaived?: boolean;
}

/**
 * An in-toto Statement v1 with a SLSA Verification Summary v1 predicate for a verification just done (PASSED or
 * FAILED, README "Attestations"):
 *   subject            the root's artifacts with their signed digests; when the policy waives the root's own
 *                      document (`rootDocumentWaived`), the artifacts it consumes that the chain verified (what a
 *                      task about to run on them relies on)
 *   verifier           id and version; timeVerified the report's reference time
 *   resourceUri        taskUri(rootUrl, root)
 *   policy             the policy file and every trust file it names, as one digest (policyDigest)
 *   inputAttestations  every link's chain-of-trust document that was read and verified, with its digest
 *   verificationResult PASSED when the chain verified, else FAILED
 *   verifiedLevels     [VERIFIED_LEVEL] when PASSED, ["FAILED"] when FAILED (VSA v1.0: "or FAILED if policy
 *                      verification failed")
 * Pure. Throws ATTEST_NO_SUBJECT when there is no subject at all.
 */
export function buildVerificationSummary(
  report: ChainReport,
  o: VerificationSummaryOptions,
): InTotoStatement {
  const link = rootLink(report);
  let subject = report.rootEvidence ? subjectsOf(report.rootEvidence.document) : [];
  if (subject.length === 0 && o.rootDocumentWaived && !report.rootEvidence) {
    const byName = new Map<string, ResourceDescriptor>();
    for (const c of link?.consumed ?? [])
      byName.set(`${c.taskId}/${c.artifact}`, {
        name: c.artifact,
        digest: digestSet(c.digest),
        annotations: { taskId: c.taskId },
      });
    subject = [...byName.keys()].sort().map((k) => byName.get(k)!);
  }
  if (subject.length === 0)
    throw new CotError(
      'ATTEST_NO_SUBJECT',
      o.rootDocumentWaived
        ? `task ${report.root}: its own document is waived by the policy and no artifact it consumes was verified: the summary would have no subject`
        : `task ${report.root}: its own chain-of-trust document was not verified, so its artifacts have no signed digests: the summary would have no subject`,
    );
  const inputAttestations = report.links
    .filter((l) => l.document)
    .sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0))
    .map((l) => {
      const uri = artifactUrl(o.rootUrl, l.taskId, l.runId, l.document!.name);
      return {
        name: `${l.taskId}/${l.document!.name}`,
        ...(uri ? { uri } : {}),
        digest: { sha256: l.document!.sha256 },
      };
    });
  const predicate = {
    verifier: { id: o.verifier.id ?? COT_VERIFIER_ID, version: o.verifier.version },
    timeVerified: report.referenceTime,
    resourceUri: taskUri(o.rootUrl, report.root),
    policy: o.policy as unknown as JsonObject,
    inputAttestations,
    verificationResult: report.ok ? 'PASSED' : 'FAILED',
    verifiedLevels: report.ok ? [VERIFIED_LEVEL] : ['FAILED'],
    slsaVersion: '1.0',
  };
  return { _type: STATEMENT_TYPE, subject, predicateType: VSA_PREDICATE_TYPE, predicate };
}

/**
 * The policy a verification summary names, as one digest over the policy and its trust files: the sha256 of the
 * lines `<sha256 hex>  <name>\n` (as `sha256sum` prints them) of the policy file first, then of each trust file it
 * names, sorted by name (paths relative to the policy's folder; a file named twice counts once), then, when the
 * verification ran with options that widen what it accepts (`commandLine`: `cot verify --allow-reference-artifacts`,
 * `--allow-host`), the line `<sha256 of their canonical JSON>  (command line)`. The files, their digests and the
 * options are listed in `annotations`, so a consumer can recompute it.
 */
export function policyDigest(
  policy: { name: string; sha256: string },
  trustFiles: readonly { name: string; sha256: string }[],
  uri: string,
  commandLine: JsonObject = {},
): VsaPolicy {
  const unique = new Map(trustFiles.map((f) => [f.name, f]));
  const files = [
    policy,
    ...[...unique.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  ];
  let text = files.map((f) => `${f.sha256}  ${f.name}\n`).join('');
  const options = Object.keys(commandLine).length > 0;
  // options that widen what the verification accepts are part of the policy it applied
  if (options) text += `${sha256Hex(canonicalize(commandLine))}  ${COMMAND_LINE_NAME}\n`;
  return {
    name: policy.name,
    uri,
    digest: { sha256: sha256Hex(text) },
    annotations: {
      files: files.map((f) => ({ name: f.name, sha256: f.sha256 })),
      ...(options ? { commandLine } : {}),
    },
  };
}

/** The name of the line of the command-line options in the policy digest (policyDigest). */
const COMMAND_LINE_NAME = '(command line)';

function sha256Hex(text: string): string {
  return digestBytes(Buffer.from(text, 'utf8'));
}
