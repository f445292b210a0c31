import type { TaskclusterQueueOptions } from '../transport/taskcluster.js';
import type { Policy } from './policy.js';

/** What a policy sets on the Taskcluster queue a chain is verified through. */
export type PolicyQueueOptions = Required<
  Pick<TaskclusterQueueOptions, 'allowedHosts' | 'timeoutMs' | 'downloadDeadlineMs' | 'minBytesPerSecond'>
>;

/**
 * The TaskclusterQueue options a policy implies, as `cot verify` applies them: the hosts artifact redirects may
 * lead to (`extraHosts`, e.g. given on the command line, then the policy's `allowedHosts`; the rootUrl host is
 * always allowed), and the policy's network bounds as the queue's defaults for API reads and downloads
 * (`bounds.timeoutMs` inactivity timeout in ms, `bounds.deadlineMs` per download in ms, `bounds.minBytesPerSecond`).
 * Spread it into `new TaskclusterQueue({ rootUrl, ...policyQueueOptions(policy) })`. Throws nothing.
 */
export function policyQueueOptions(policy: Policy, extraHosts: readonly string[] = []): PolicyQueueOptions {
  return {
    allowedHosts: [...extraHosts, ...policy.allowedHosts],
    timeoutMs: policy.bounds.timeoutMs,
    downloadDeadlineMs: policy.bounds.deadlineMs,
    minBytesPerSecond: policy.bounds.minBytesPerSecond,
  };
}
