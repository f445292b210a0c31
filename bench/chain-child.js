// Child process of the benchmark: verify a chain and report time, phases, this process's peak RSS and the HTTP
// requests it made and the connections it opened (counted through node:diagnostics_channel, requests by kind; none
// for a directory store).
// Usage: node bench/chain-child.js TASK_ID POLICY (--queue DIR | --root-url URL) [ATTESTATION]
// ATTESTATION, what the commands that attest add to the verification, with the same calls as they make:
//   --attest ENVELOPE KEY       `cot verify --attest ENVELOPE --attest-key KEY`: the verification summary
//   --provenance OUT_DIR KEY    `cot attest provenance --out OUT_DIR --key KEY`: the root task's provenance
// Before the verification, the output checks and loading the key (as the commands do); after it, the statement built,
// signed and written (envelope and Sigstore bundle). Its time and phases are reported apart (`attest`), `seconds`
// staying the verification's own.
// The attestation modules are loaded only then (before anything is timed), so the other rows' processes, their
// peak RSS included, stay as they were.
import { subscribe } from 'node:diagnostics_channel';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadPolicy, verifyChain } from '../dist/index.js';
import { DirectoryQueue, TaskclusterQueue } from '../dist/queue.js';

const requests = { total: 0, connections: 0 };
/** The kind of a request to `cot queue serve` or the queue: its route, without ids and names. */
function kind(method, path) {
  const p = path.replace(/\?.*$/, '');
  if (p.startsWith('/_content/')) return 'content GET (after a 303)';
  const m = /^\/api\/queue\/v1\/(.*)$/.exec(p);
  if (!m) return `${method} other`;
  const r = m[1];
  if (r === 'tasks') return `${method} tasks (batch)`;
  if (r === 'tasks/status') return `${method} statuses (batch)`;
  if (/^task\/[^/]+$/.test(r)) return `${method} task`;
  if (/^task\/[^/]+\/status$/.test(r)) return `${method} status`;
  if (/^task\/[^/]+\/(runs\/\d+\/)?artifacts$/.test(r)) return `${method} listArtifacts`;
  if (/^task\/[^/]+\/(runs\/\d+\/)?artifacts\//.test(r)) return `${method} getArtifact (303)`;
  return `${method} other queue`;
}
subscribe('http.client.request.start', ({ request }) => {
  requests.total++;
  const k = kind(request.method, request.path);
  requests[k] = (requests[k] ?? 0) + 1;
});

subscribe('net.client.socket', () => {
  requests.connections++;
});

const [taskId, policyPath, how, where, attestHow, attestWhere, attestKey] = process.argv.slice(2);
const loaded = await loadPolicy(policyPath);
const queue =
  how === '--queue' ? new DirectoryQueue(where) : new TaskclusterQueue({ rootUrl: where, retries: 2 });
// the attestation's phases in seconds, and what it wrote
const attest = attestHow ? { kind: attestHow.slice(2), phases: {}, seconds: 0 } : undefined;
const lib = attest
  ? {
      ...(await import('../dist/attest/sign.js')),
      ...(await import('../dist/attest/statement.js')),
      ...(await import('../dist/cli/attest-io.js')),
      ...(await import('../dist/cli/commands/verify.js')),
      ...(await import('../dist/cli/version.js')),
      ...(await import('../dist/util/output-paths.js')),
    }
  : undefined;
const phase = async (name, fn) => {
  const t0 = performance.now();
  const v = await fn();
  attest.phases[name] = (performance.now() - t0) / 1000;
  attest.seconds += attest.phases[name];
  return v;
};
const envelopePath =
  attestHow === '--provenance'
    ? join(attestWhere, `${taskId}.provenance${lib.ENVELOPE_SUFFIX}`)
    : attestWhere;
const key = attest
  ? await phase('prepare', async () => {
      if (attestHow === '--attest') {
        lib.checkEnvelopePath(envelopePath, '--attest');
        await lib.assertFileTarget(envelopePath, '--attest');
      }
      await lib.assertDistinctOutputs(
        [
          { path: envelopePath, what: 'the attestation' },
          { path: lib.bundlePathFor(envelopePath), what: 'its Sigstore bundle' },
        ],
        [...lib.policyInputs(policyPath, loaded), { path: attestKey, what: 'the attestation key' }],
      );
      return lib.loadAttestationKey(attestKey, loaded);
    })
  : undefined;
const t = performance.now();
const r = await verifyChain(queue, taskId, { policy: loaded.policy, trust: loaded.trust, at: new Date() });
const seconds = (performance.now() - t) / 1000;
if (attest) {
  const statement = await phase('build', () =>
    attest.kind === 'attest'
      ? lib.buildVerificationSummary(r, {
          verifier: { version: { cot: lib.VERSION } },
          policy: lib.summaryPolicy(loaded),
          rootDocumentWaived: !loaded.policy.verifyRootTask,
        })
      : lib.buildProvenance(r),
  );
  const signed = await phase('sign', () => lib.signStatement(statement, key.privateKey));
  await phase('write', async () => {
    if (attest.kind === 'provenance') await mkdir(attestWhere, { recursive: true });
    await lib.writeAttestation(envelopePath, signed);
  });
  attest.subjects = statement.subject.length;
  attest.inputAttestations = statement.predicate.inputAttestations?.length ?? 0;
  attest.payloadBytes = Buffer.byteLength(JSON.stringify(statement));
}
process.stdout.write(
  JSON.stringify({
    ok: r.ok,
    errors: r.errors.slice(0, 3),
    links: r.links.length,
    artifacts: r.stats.artifactsChecked,
    seconds,
    phases: r.stats.phases,
    maxRssKiB: process.resourceUsage().maxRSS,
    requests,
    ...(attest ? { attest } : {}),
  }),
);
