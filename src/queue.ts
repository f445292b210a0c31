// The queue entry of chain-of-trust (`import ... from 'chain-of-trust/queue'`): where tasks, their status and their
// artifacts come from and go to. `TaskQueue` is the one interface verifyChain, fetchChain and workerChainOfTrust's
// upload take; `DirectoryQueue` (a folder laid out like the queue's API), `TaskclusterQueue` (the REST API) and
// `startQueueServer` (that REST API over a DirectoryQueue, `cot queue serve`) implement or serve it.

export { type PolicyQueueOptions, policyQueueOptions } from './chain/queue-options.js';
export {
  type FetchedTask,
  type FetchMissing,
  type FetchOptions,
  type FetchResult,
  fetchChain,
} from './mirror/fetch.js';
export type { FetchTreeOptions } from './mirror/trees.js';
export { DirectoryQueue } from './transport/dir-store.js';
export { type DownloadedArtifact, type DownloadOptions, downloadArtifact } from './transport/download.js';
export type {
  ArtifactInfo,
  CreateArtifactInput,
  DownloadLimits,
  OpenedArtifact,
  RunStatus,
  TaskQueue,
  TaskStatus,
} from './transport/queue.js';
export { type QueueServer, type QueueServerOptions, startQueueServer } from './transport/server.js';
export {
  QUEUE_API_DEFAULTS,
  TaskclusterQueue,
  type TaskclusterQueueOptions,
} from './transport/taskcluster.js';
export {
  type UploadedFile,
  type UploadFile,
  type UploadOptions,
  uploadArtifacts,
} from './transport/upload.js';
