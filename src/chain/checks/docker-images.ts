import { obj } from '../edges.js';
import { workerTypeIn } from '../policy.js';
import type { ChainCheck, ChainRun, LinkImage, LinkState } from '../state.js';

/** Whether the root task uses a restricted scope (scriptworker `has_restricted_scopes`: exact, or `prefix*`). */
function restrictedScopesOf(task: { scopes?: unknown }, restricted: readonly string[]): string[] {
  const scopes = Array.isArray(task.scopes)
    ? task.scopes.filter((x): x is string => typeof x === 'string')
    : [];
  return scopes.filter((sc) =>
    restricted.some((r) => (r.endsWith('*') ? sc.startsWith(r.replace(/\*+$/, '')) : sc === r)),
  );
}

function kindsAllowed(s: ChainRun, n: LinkState): { ok: boolean; kinds: string[] } {
  // `dependency` says only how the walk reached a task (followDependencies), not what kind of task it is
  const typed = n.link.kinds.filter((k) => k !== 'dependency');
  const kinds = typed.length > 0 ? typed : n.link.kinds.length > 0 ? n.link.kinds : ['root'];
  const allowed = s.policy.prebuiltDockerImageTaskTypes;
  return { ok: allowed === undefined || kinds.every((k) => allowed.includes(k)), kinds };
}

function checkTaskImage(s: ChainRun, n: LinkState, image: Record<string, unknown>, out: LinkImage): void {
  const id = n.link.taskId;
  const imageTaskId = image.taskId;
  const path = image.path;
  out.name = `${String(path)} of task ${String(imageTaskId)}`;
  if (typeof imageTaskId !== 'string' || typeof path !== 'string') {
    s.fail(
      n,
      'CHAIN_IMAGE_HASH_MISMATCH',
      `task ${id}: payload.image is a task-image without taskId and path`,
    );
    return;
  }
  const input = obj(obj(obj(n.task.extra)?.chainOfTrust)?.inputs)?.['docker-image'];
  if (input !== imageTaskId) {
    s.fail(
      n,
      'CHAIN_IMAGE_HASH_MISMATCH',
      `task ${id}: extra.chainOfTrust.inputs.docker-image is ${JSON.stringify(input ?? null)}, but the image comes from ${imageTaskId}`,
    );
    return;
  }
  if (!n.doc) {
    n.link.checks.push(`docker image ${out.name}: not verified (this task has no verified document)`);
    return;
  }
  const imageNode = s.nodes.get(imageTaskId);
  if (!imageNode?.doc) {
    s.failArtifact(
      n,
      { producer: imageTaskId, artifact: path },
      s.consequence(imageNode, 'CHAIN_COT_MISSING'),
      `task ${id} runs image ${path} of ${imageTaskId}, whose chain-of-trust document did not verify`,
      { causedBy: imageTaskId },
    );
    return;
  }
  if (
    s.policy.dockerImageWorkerTypes.length > 0 &&
    !workerTypeIn(s.policy.dockerImageWorkerTypes, imageNode.link.provisionerId, imageNode.link.workerType)
  ) {
    s.fail(
      imageNode,
      'CHAIN_DECISION_WORKER_TYPE',
      `docker-image task ${imageTaskId} runs on ${imageNode.link.provisionerId}/${imageNode.link.workerType}, not an allowed docker-image worker type`,
    );
  }
  const claimed = obj(n.doc.environment)?.imageArtifactHash;
  const [alg, digest] = typeof claimed === 'string' ? claimed.split(':') : [];
  const listed =
    alg && Object.hasOwn(imageNode.doc.artifacts, path) ? imageNode.doc.artifacts[path]?.[alg] : undefined;
  if (!alg || !digest || !listed || listed !== digest || !s.policy.hashAlgorithms.includes(alg as never)) {
    s.failArtifact(
      n,
      { producer: imageTaskId, artifact: path },
      'CHAIN_IMAGE_HASH_MISMATCH',
      `task ${id}: environment.imageArtifactHash is ${JSON.stringify(claimed ?? null)}, the docker-image task ${imageTaskId} lists ${listed && alg ? `${alg}:${listed}` : 'no such image'} for ${path}`,
    );
    return;
  }
  out.verified = true;
  out.taskId = imageTaskId;
  out.artifact = path;
  out.digest = { [alg]: digest };
  n.link.checks.push(`docker image ${out.name}: hash matches its signed document`);
}

/**
 * Which docker image each link ran (scriptworker `verify_docker_image_sha`, applied by payload shape to every
 * link, whatever implementation ran it): a `task-image` must be the one its `extra.chainOfTrust.inputs.docker-image`
 * task built, with `environment.imageArtifactHash` equal to the digest in that task's signed document
 * (CHAIN_IMAGE_HASH_MISMATCH), built on an allowed docker-image worker type; a prebuilt image (a registry name) or
 * an `indexed-image` is allowed only for the task kinds the policy lists in `prebuiltDockerImageTaskTypes` (absent:
 * any kind, and the report marks the image unverified); an indexed image is never allowed when the root task uses a
 * restricted scope (CHAIN_PREBUILT_IMAGE). The report always says which image a link ran and whether it is verified.
 */
export const checkDockerImages: ChainCheck = {
  name: 'docker images',
  async run(s: ChainRun): Promise<void> {
    const rootNode = s.nodes.get(s.root);
    const restricted = rootNode ? restrictedScopesOf(rootNode.task, s.policy.restrictedScopes) : [];
    for (const n of s.nodes.values()) {
      if (!n.fetched) continue;
      const payload = obj(n.task.payload);
      const raw = payload?.image;
      const out: LinkImage = { type: 'none', verified: false };
      n.link.image = out;
      if (raw === undefined || raw === null) continue;
      const image = obj(raw);
      if (image?.type === 'task-image') {
        out.type = 'task-image';
        checkTaskImage(s, n, image, out);
        continue;
      }
      const id = n.link.taskId;
      if (typeof raw === 'string') {
        out.type = 'prebuilt';
        out.name = raw;
      } else if (image?.type === 'indexed-image') {
        out.type = 'indexed-image';
        out.name = `${String(image.namespace)}/${String(image.path)}`;
        if (restricted.length > 0) {
          s.fail(
            n,
            'CHAIN_PREBUILT_IMAGE',
            `task ${id} runs the indexed image ${out.name}, which is never allowed in a chain whose task uses a restricted scope (${restricted.join(', ')})`,
          );
          continue;
        }
      } else {
        out.type = 'unknown';
        out.name = JSON.stringify(raw).slice(0, 80);
        s.fail(n, 'CHAIN_PREBUILT_IMAGE', `task ${id}: unknown kind of docker image ${out.name}`);
        continue;
      }
      const { ok, kinds } = kindsAllowed(s, n);
      if (!ok)
        s.fail(
          n,
          'CHAIN_PREBUILT_IMAGE',
          `task ${id} (${kinds.join(', ')}) runs the ${out.type === 'prebuilt' ? 'prebuilt' : 'indexed'} image ${out.name}; the policy allows prebuilt images only for ${s.policy.prebuiltDockerImageTaskTypes!.join(', ') || 'no task kind'}`,
        );
      else
        n.link.checks.push(
          `${out.type === 'prebuilt' ? 'prebuilt' : 'indexed'} image ${out.name}: not verified by the chain (${s.policy.prebuiltDockerImageTaskTypes === undefined ? 'the policy allows any task kind' : `allowed for ${kinds.join(', ')}`})`,
        );
    }
  },
};

/**
 * Interactive tasks are refused in a chain (scriptworker `check_interactive_docker_worker` and
 * `check_interactive_generic_worker`): a person could have changed outputs before they were hashed. Judged by the
 * payload's shape, not by the implementation the policy names, so a docker-worker payload run by generic-worker
 * (d2g) is checked the same way: `payload.features.interactive`, `payload.env.TASKCLUSTER_INTERACTIVE`,
 * `payload.rdpInfo`, or a `generic-worker:allow-rdp:` scope (CHAIN_INTERACTIVE_TASK). A missing `features` or `env`
 * is not malformed (the reference's refusal of that is dropped).
 */
export const checkInteractive: ChainCheck = {
  name: 'interactive',
  async run(s: ChainRun): Promise<void> {
    const truthy = (v: unknown) => v !== undefined && v !== null && v !== false && v !== '' && v !== 0;
    for (const n of s.nodes.values()) {
      if (!n.fetched) continue;
      const payload = obj(n.task.payload);
      const found: string[] = [];
      if (truthy(obj(payload?.features)?.interactive)) found.push('payload.features.interactive');
      if (truthy(obj(payload?.env)?.TASKCLUSTER_INTERACTIVE))
        found.push('payload.env.TASKCLUSTER_INTERACTIVE');
      if (truthy(payload?.rdpInfo)) found.push('payload.rdpInfo');
      const scopes = Array.isArray(n.task.scopes) ? n.task.scopes : [];
      for (const sc of scopes)
        if (typeof sc === 'string' && sc.startsWith('generic-worker:allow-rdp:')) found.push(`scope ${sc}`);
      if (found.length > 0)
        s.fail(
          n,
          'CHAIN_INTERACTIVE_TASK',
          `task ${n.link.taskId} is interactive (${found.join(', ')}): a person could have changed its outputs`,
        );
      else n.link.checks.push('not interactive');
    }
  },
};
