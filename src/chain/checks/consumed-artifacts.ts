import { RESERVED_ARTIFACT_NAMES } from '../../document/names.js';
import type { HashAlgorithm } from '../../document/schema.js';
import { CotError, type ErrorCode } from '../../errors.js';
import { downloadArtifact } from '../../transport/download.js';
import { servesBytes } from '../../transport/queue.js';
import { mapBounded } from '../../util/concurrency.js';
import type { ConsumedPath, Edge } from '../edges.js';
import { fnmatch } from '../glob.js';
import type { ChainCheck, ChainRun, LinkConsumed, LinkState } from '../state.js';

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

/** What checking one consumed artifact found: recorded on the consumer once every job is done, in job order. */
type Outcome =
  | { check: string; consumed?: LinkConsumed }
  | { fail: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

/** The consumer's view of a download error: its own wording (it names artifact, task and run), plus the consumer. */
function downloadFailure(j: Job, err: CotError, what: string): string {
  const consumer = `consumed by task ${j.e.from}${j.pattern ? `, matched by ${j.pattern}` : ''}`;
  return err.message.includes(`artifact ${j.name} of task ${j.e.to}`)
    ? `${err.message} (${consumer})`
    : `${what}: ${err.message}`;
}

/** The download and hash check of each (producer, artifact name) of one chain run, shared by its consumers. */
type Downloads = Map<string, Promise<void>>;

async function checkOne(s: ChainRun, j: Job, downloads: Downloads): Promise<Outcome> {
  const { e, producer: p, name } = j;
  const label = `${name}${j.pattern ? ` (matched by ${j.pattern})` : ''} from ${e.to}`;
  const what = `task ${e.from} consumes ${label}`;
  const doc = p.doc!;
  const entry = Object.hasOwn(doc.artifacts, name) ? doc.artifacts[name] : undefined;
  if (!storedIn(p, name)) {
    // optional excuses absence only (an error artifact is absent: the queue has no bytes for it)
    if (j.optional) return { check: `optional ${label}: ${describeAbsence(p, name)}` };
    if (!entry)
      return {
        fail: {
          code: 'ARTIFACT_NOT_LISTED',
          message: `${what}, which its signed document does not list and which ${describeAbsence(p, name)}`,
        },
      };
    return {
      fail: {
        code: 'ARTIFACT_MISSING',
        message: `${what}: it is listed in the signed document but ${describeAbsence(p, name)}`,
      },
    };
  }
  if (!entry) {
    return {
      fail: {
        code: 'ARTIFACT_NOT_LISTED',
        message: `${what}, which the queue holds but its signed document does not list${j.optional ? ' (optional excuses only absence)' : ''}`,
      },
    };
  }
  const expected = Object.fromEntries(
    s.policy.hashAlgorithms.filter((a) => entry[a]).map((a) => [a, entry[a]!]),
  ) as Partial<Record<HashAlgorithm, string>>;
  if (Object.keys(expected).length === 0)
    return {
      fail: {
        code: 'HASH_UNSUPPORTED_ALGORITHM',
        message: `${label} lists only ${Object.keys(entry).join(', ')}`,
      },
    };
  try {
    // one download per artifact, however many consumers it has (a release graph's shared ancestors): the bytes and
    // the digests they are checked against are the producer's, the same for every consumer
    const key = `${e.to}\n${name}`;
    let download = downloads.get(key);
    if (!download) {
      download = downloadArtifact(s.queue, e.to, p.link.runId, name, {
        expected,
        algorithms: Object.keys(expected) as HashAlgorithm[],
        maxBytes: s.policy.bounds.maxBytes,
        timeoutMs: s.policy.bounds.timeoutMs,
        deadlineMs: s.policy.bounds.deadlineMs,
        minBytesPerSecond: s.policy.bounds.minBytesPerSecond,
      }).then((d) => {
        s.bytesHashed += d.size;
        s.artifactsChecked++;
      });
      download.catch(() => undefined); // awaited below, by this job and by any other consumer's
      downloads.set(key, download);
    }
    await download;
    return {
      check: `${label}: hash matches`,
      consumed: { taskId: e.to, artifact: name, digest: expected as Record<string, string> },
    };
  } catch (err) {
    if (!(err instanceof CotError)) throw err;
    // the listing holds it but the queue answers 404 (or 424): absent, as for the listing; an expired artifact
    // (410) stays QUEUE_NOT_FOUND: nothing says it was not what the document lists, it can no longer be checked
    const absent = err.code === 'QUEUE_NOT_FOUND' && err.details.status !== 410;
    if (j.optional && absent) return { check: `optional ${label}: absent` };
    return {
      fail: {
        code: absent ? 'ARTIFACT_MISSING' : err.code,
        message: downloadFailure(j, err, what),
        details: err.details,
      },
    };
  } finally {
    s.progress();
  }
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
          s.consequence(p, 'CHAIN_COT_MISSING'),
          `task ${e.from} consumes ${e.paths.map((x) => x.path).join(', ')} from ${e.to}, whose chain-of-trust document did not verify`,
          { causedBy: e.to },
        );
        continue;
      }
      for (const path of e.paths) jobs.push(...expand(s, e, c, p, path));
    }
    // one check per (consumer, producer, name), optional only if every mention of that name is (a required path and
    // an optional pattern matching it: the name is required); one download per (producer, name), shared
    const byName = new Map<string, Job>();
    for (const j of jobs) {
      const k = `${j.e.from}\n${j.e.to}\n${j.name}`;
      const seen = byName.get(k);
      if (!seen) byName.set(k, { ...j });
      else if (seen.optional && !j.optional) byName.set(k, { ...j });
    }
    const unique = [...byName.values()];
    const downloads: Downloads = new Map();
    const outcomes = await mapBounded(unique, s.policy.bounds.concurrency, (j) => checkOne(s, j, downloads));
    // recorded in job order (edges, then names), not in the order the downloads finished
    unique.forEach((j, i) => {
      const o = outcomes[i]!;
      if ('check' in o) {
        j.consumer.link.checks.push(o.check);
        if (o.consumed) {
          j.consumer.link.consumed ??= [];
          j.consumer.link.consumed.push(o.consumed);
        }
      } else
        s.failArtifact(
          j.consumer,
          { producer: j.e.to, artifact: j.name },
          o.fail.code,
          o.fail.message,
          o.fail.details,
        );
    });
  },
};
