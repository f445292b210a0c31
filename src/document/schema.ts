/**
 * JSON Schema of the chain-of-trust document, version 1.
 *
 * It is the reference verifier's `cot_v1_schema.json` (eight required top-level fields; `task` requires
 * dependencies, payload, scopes, taskGroupId, workerType; extra fields allowed everywhere), made stricter where
 * every real implementation already complies: `chainOfTrustVersion` is exactly 1, `runId` is a non-negative
 * integer, digests are lowercase hex of the algorithm's length, and ids are Taskcluster slugids.
 */
import { SLUGID_PATTERN } from '../util/task-id.js';

export { SLUGID_PATTERN };

const HASH_HEX_LENGTH = { sha256: 64, sha512: 128 } as const;
export type HashAlgorithm = keyof typeof HASH_HEX_LENGTH;
export const HASH_ALGORITHMS = Object.keys(HASH_HEX_LENGTH) as HashAlgorithm[];

export const COT_V1_SCHEMA = {
  $id: 'https://cot.invalid/schemas/chain-of-trust-v1.json',
  title: 'Chain of Trust Schema v1',
  type: 'object',
  properties: {
    artifacts: {
      type: 'object',
      propertyNames: { minLength: 1 },
      additionalProperties: {
        type: 'object',
        minProperties: 1,
        properties: {
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          sha512: { type: 'string', pattern: '^[0-9a-f]{128}$' },
        },
        additionalProperties: { type: 'string' },
      },
    },
    chainOfTrustVersion: { type: 'number' },
    environment: { type: 'object' },
    runId: { type: 'integer', minimum: 0 },
    task: {
      type: 'object',
      properties: {
        dependencies: { type: 'array', items: { type: 'string' }, uniqueItems: true },
        payload: { type: 'object' },
        scopes: { type: 'array', items: { type: 'string' }, uniqueItems: true },
        taskGroupId: { type: 'string' },
        workerType: { type: 'string' },
      },
      required: ['dependencies', 'payload', 'scopes', 'taskGroupId', 'workerType'],
    },
    taskId: { type: 'string', pattern: SLUGID_PATTERN },
    workerGroup: { type: 'string', minLength: 1 },
    workerId: { type: 'string', minLength: 1 },
    workerType: { type: 'string' },
  },
  required: [
    'artifacts',
    'chainOfTrustVersion',
    'environment',
    'runId',
    'task',
    'taskId',
    'workerGroup',
    'workerId',
  ],
} as const;
