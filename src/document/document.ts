import { createRequire } from 'node:module';
import type { Ajv as AjvClass, ErrorObject, ValidateFunction } from 'ajv';
import { DocumentError, type FieldProblem } from '../errors.js';
import type { JsonObject, JsonValue } from '../json/parse.js';
import { COT_V1_SCHEMA } from './schema.js';

/** The artifacts map: artifact name -> { algorithm: lowercase hex digest }. */
export type ArtifactDigests = Record<string, Record<string, string>>;

/** A task definition as the queue serves it (only the fields the schema requires are typed). */
export interface TaskDefinition {
  dependencies: string[];
  payload: JsonObject;
  scopes: string[];
  taskGroupId: string;
  workerType: string;
  [key: string]: JsonValue;
}

/** A chain-of-trust document, version 1. */
export interface CotDocument {
  artifacts: ArtifactDigests;
  chainOfTrustVersion: 1;
  environment: JsonObject;
  runId: number;
  task: TaskDefinition;
  taskId: string;
  workerGroup: string;
  workerId: string;
  workerType?: string;
  [key: string]: JsonValue | undefined;
}

let validator: ValidateFunction | undefined;

function getValidator(): ValidateFunction {
  if (!validator) {
    // loaded on first use (synchronously: ajv is CommonJS), so commands that never validate start faster
    const { Ajv } = createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass };
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: false });
    validator = ajv.compile(COT_V1_SCHEMA);
  }
  return validator;
}

/** Render a JSON pointer (`/task/scopes/1`) as a readable path (`task.scopes[1]`). */
function pointerToPath(pointer: string, extra?: string): string {
  const parts = pointer === '' ? [] : pointer.slice(1).split('/');
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const raw of parts) {
    const p = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(p)) out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out || '(document)';
}

function toProblem(e: ErrorObject): FieldProblem {
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return { path: pointerToPath(e.instancePath, missing), message: 'is required' };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return { path: pointerToPath(e.instancePath, extra), message: 'is not allowed' };
  }
  if (e.keyword === 'pattern' && /sha(256|512)$/.test(e.instancePath)) {
    return {
      path: pointerToPath(e.instancePath),
      message: 'must be a lowercase hex digest of the right length',
    };
  }
  if (e.keyword === 'pattern' && e.instancePath === '/taskId') {
    return { path: 'taskId', message: 'must be a Taskcluster slugid (22 URL-safe base64 characters)' };
  }
  return { path: pointerToPath(e.instancePath), message: e.message ?? e.keyword };
}

/**
 * Check a value against chain-of-trust schema v1 and narrow its type. Throws DocumentError listing every
 * bad field path at once (DOCUMENT_UNSUPPORTED_VERSION when the only complaint is the version).
 */
export function assertCotDocument(value: unknown, source = 'document'): asserts value is CotDocument {
  const validate = getValidator();
  const problems: FieldProblem[] = [];
  if (!validate(value)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const p = toProblem(e);
      const key = `${p.path}\u0000${p.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(p);
      }
    }
  }
  const version =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>).chainOfTrustVersion
      : undefined;
  const badVersion = typeof version === 'number' && version !== 1;
  if (badVersion)
    problems.push({ path: 'chainOfTrustVersion', message: `is ${version}; only version 1 exists` });
  if (problems.length === 0) return;
  const list = problems.map((p) => `${p.path} ${p.message}`).join('; ');
  const onlyVersion = badVersion && problems.length === 1;
  throw new DocumentError(
    onlyVersion ? 'DOCUMENT_UNSUPPORTED_VERSION' : 'DOCUMENT_INVALID',
    `${source}: ${onlyVersion ? 'unsupported chain-of-trust version' : 'invalid chain-of-trust document'}: ${list}`,
    problems,
  );
}

export interface BuildDocumentInput {
  task: JsonObject;
  taskId: string;
  runId: number;
  workerGroup: string;
  workerId: string;
  workerType?: string;
  environment?: JsonObject;
  artifacts: ArtifactDigests;
}

/**
 * Assemble and validate a v1 document. Nothing invalid is ever returned (and so never signed): throws
 * DOCUMENT_INVALID (a DocumentError listing every bad field) otherwise.
 */
export function buildDocument(input: BuildDocumentInput): CotDocument {
  const doc: Record<string, unknown> = {
    artifacts: input.artifacts,
    chainOfTrustVersion: 1,
    environment: input.environment ?? {},
    runId: input.runId,
    task: input.task,
    taskId: input.taskId,
    workerGroup: input.workerGroup,
    workerId: input.workerId,
  };
  if (input.workerType !== undefined) doc.workerType = input.workerType;
  assertCotDocument(doc);
  return doc;
}
