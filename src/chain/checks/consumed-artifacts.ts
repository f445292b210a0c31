import type { HashAlgorithm } from '../../document/schema.js';
import { CotError } from '../../errors.js';
import { RESERVED_ARTIFACT_NAMES } from '../../hashing/artifacts.js';
import { mapBounded } from '../../hashing/digest.js';
import { downloadArtifact } from '../../transport/download.js';
import { servesBytes } from '../../transport/queue.js';
import type { ConsumedPath, Edge } from '../edges.js';
import { fnmatch } from '../glob.js';
import type { ChainCheck, ChainRun, LinkState } from '../state.js';

interface Job {
  e: Edge;
  consumer: LinkState;
  producer: LinkState;
  /** the artifact name (a glob's match, or the path itself) */
  name: string;
  optional: boolean;
  /** the pattern it matched, when it came from a glob */
  pattern?: string;
}

/** A name a consumer gets bytes for (listed, and not an error artifact). */
function storedIn(p: LinkState, name: string): boolean {
  return servesBytes(p.listing?.get(name));
}

function describeAbsence(p: LinkState, name: string): string {
  const a = p.listing?.get(name);
  return a
    ? `is an ${a.storageType} artifact (a declared output never produced)`
    : 'is absent from the queue';
}

/** Expand one consumed path of an edge into artifact names, failing the consumer for what cannot be consumed. */
function expand(s: ChainRun, e: Edge, c: LinkState, p: LinkState, path: ConsumedPath): Job[] {
  const what = `task ${e.from} consumes`;
  if (!path.glob) return [{ e, consumer: c, producer: p, name: path.path, optional: path.optional }];
  // the chain-of-trust files never list themselves: a pattern does not reach them
  const names = [...(p.listing?.keys() ?? [])]
    .filter((n) => !RESERVED_ARTIFACT_NAMES.has(n) && fnmatch(n, path.path))
    .sort();
  if (names.length === 0) {
    if (path.optional) c.link.checks.push(`optional pattern ${path.path} of ${e.to}: matches nothing`);
    else
      s.failArtifact(
        c,
        { producer: e.to, artifact: path.path },
        'ARTIFACT_MISSING',
        `${what} ${path.path} from ${e.to}: the pattern matches no artifact of run ${p.link.runId}`,
      );
    return [];
  }
  return names.map((name) => ({
    e,
    consumer: c,
    producer: p,
    name,
    optional: path.optional,
    pattern: path.path,
  }));
}

async function checkOne(s: ChainRun, j: Job): Promise<void> {
  const { e, consumer: c, producer: p, name } = j;
  const label = `${name}${j.pattern ? ` (matched by ${j.pattern})` : ''} from ${e.to}`;
  const what = `task ${e.from} consumes ${label}`;
  const about = { producer: e.to, artifact: name };
  const doc = p.doc!;
  const entry = Object.hasOwn(doc.artifacts, name) ? doc.artifacts[name] : undefined;
  if (!storedIn(p, name)) {
    // optional excuses absence only (an error artifact is absent: the queue has no bytes for it)
    if (j.optional) c.link.checks.push(`optional ${label}: ${describeAbsence(p, name)}`);
    else if (!entry)
      s.failArtifact(
        c,
        about,
        'ARTIFACT_NOT_LISTED',
        `${what}, which its signed document does not list and which ${describeAbsence(p, name)}`,
      );
    else
      s.failArtifact(
        c,
        about,
        'ARTIFACT_MISSING',
        `${what}: it is listed in the signed document but ${describeAbsence(p, name)}`,
      );
    return;
  }
  if (!entry) {
    s.failArtifact(
      c,
      about,
      'ARTIFACT_NOT_LISTED',
      `${what}, which the queue holds but its signed document does not list${j.optional ? ' (optional excuses only absence)' : ''}`,
    );
    return;
  }
  const expected = Object.fromEntries(
    s.policy.hashAlgorithms.filter((a) => entry[a]).map((a) => [a, entry[a]!]),
  ) as Partial<Record<HashAlgorithm, string>>;
  if (Object.keys(expected).length === 0) {
    s.failArtifact(
      c,
      about,
      'HASH_UNSUPPORTED_ALGORITHM',
      `${label} lists only ${Object.keys(entry).join(', ')}`,
    );
    return;
  }
  try {
    const d = await downloadArtifact(s.queue, e.to, p.link.runId, name, {
      expected,
      algorithms: Object.keys(expected) as HashAlgorithm[],
      maxBytes: s.policy.bounds.maxBytes,
      timeoutMs: s.policy.bounds.timeoutMs,
      deadlineMs: s.policy.bounds.deadlineMs,
      minBytesPerSecond: s.policy.bounds.minBytesPerSecond,
    });
    s.bytesHashed += d.size;
    s.artifactsChecked++;
    c.link.checks.push(`${label}: hash matches`);
  } catch (err) {
    if (!(err instanceof CotError)) throw err;
    if (j.optional && err.code === 'TRANSPORT_NOT_FOUND') c.link.checks.push(`optional ${label}: absent`);
    else {
      // the download's error names the artifact, its task and run (`artifact N of task P run R: ...`): the consumer
      // is what it cannot know, added once at the end
      const consumer = `consumed by task ${e.from}${j.pattern ? `, matched by ${j.pattern}` : ''}`;
      const named = err.message.includes(`artifact ${name} of task ${e.to}`);
      s.failArtifact(
        c,
        about,
        err.code === 'TRANSPORT_NOT_FOUND' ? 'ARTIFACT_MISSING' : err.code,
        named ? `${err.message} (${consumer})` : `${what}: ${err.message}`,
      );
    }
  }
  s.progress();
}

/**
 * Every artifact a link consumes (`payload.upstreamArtifacts[].paths`) at every depth, not only the root's
 * (stricter than scriptworker, which checks only the running task's). A path holding `*` is a glob matched against
 * the producer's artifact listing with Python `fnmatch` semantics (scriptworker `download_cot_artifacts`); a
 * non-optional pattern matching nothing is ARTIFACT_MISSING. Each artifact must be listed in the producer's signed
 * document (ARTIFACT_NOT_LISTED, even when optional: `optional` excuses only absence) and its downloaded bytes must
 * hash to the listed value (HASH_MISMATCH). An `error` artifact counts as absent; a `link` or `reference` artifact is
 * a download like any other (listed, hash-checked; the queue decides whether to follow a reference at all).
 */
export const checkConsumedArtifacts: ChainCheck = {
  name: 'artifacts',
  async run(s: ChainRun): Promise<void> {
    const jobs: Job[] = [];
    for (const e of s.edges) {
      if (e.paths.length === 0) continue;
      const c = s.nodes.get(e.from);
      const p = s.nodes.get(e.to);
      if (!c?.fetched || !p) continue;
      if (!p.doc || !p.listing) {
        s.failArtifact(
          c,
          { producer: e.to, artifact: e.paths.map((x) => x.path).join(', ') },
          'CHAIN_COT_MISSING',
          `task ${e.from} consumes ${e.paths.map((x) => x.path).join(', ')} from ${e.to}, whose chain-of-trust document did not verify`,
        );
        continue;
      }
      for (const path of e.paths) jobs.push(...expand(s, e, c, p, path));
    }
    // one check per (consumer, producer, name), optional only if every mention of that name is (a required path and
    // an optional pattern matching it: the name is required)
    const byName = new Map<string, Job>();
    for (const j of jobs) {
      const k = `${j.e.from}\n${j.e.to}\n${j.name}`;
      const seen = byName.get(k);
      if (!seen) byName.set(k, { ...j });
      else if (seen.optional && !j.optional) byName.set(k, { ...j });
    }
    const unique = [...byName.values()];
    await mapBounded(unique, s.policy.bounds.concurrency, (j) => checkOne(s, j));
  },
};
