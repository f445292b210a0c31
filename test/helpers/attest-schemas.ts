import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

// JSON Schemas (draft 2020-12) of in-toto Statement v1 and the SLSA v1.0 provenance and VSA predicates, written
// from the published specs (each file's $comment names the spec files and commits): test/schemas/*.schema.json.
const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
const BASE = 'https://cot.invalid/schemas/attest/';
const STATEMENT = `${BASE}in-toto-statement-v1.schema.json`;
const PROVENANCE = `${BASE}slsa-provenance-v1.schema.json`;
const VSA = `${BASE}slsa-vsa-v1.schema.json`;
const PREDICATE_SCHEMAS: Record<string, string> = {
  'https://slsa.dev/provenance/v1': PROVENANCE,
  'https://slsa.dev/verification_summary/v1': VSA,
};

let ajv: Ajv2020 | undefined;

function validator(id: string): ValidateFunction {
  if (!ajv) {
    // strict: an unknown keyword, a keyword without its type, or a `required` member that no `properties`
    // defines is a schema error, not a silently ignored rule
    ajv = new Ajv2020({ allErrors: true, strict: true });
    for (const f of readdirSync(DIR)
      .filter((n) => n.endsWith('.schema.json'))
      .sort())
      ajv.addSchema(JSON.parse(readFileSync(join(DIR, f), 'utf8')) as object);
  }
  const v = ajv.getSchema(id);
  if (!v) throw new Error(`no schema ${id} in ${DIR}`);
  return v;
}

/**
 * One ajv error as a line: where in the instance, what is wrong (with the allowed values), and the rule's path in
 * the schema (relative to the $defs entry when the rule was reached through a $ref).
 */
function errorLine(e: ErrorObject, prefix: string): string {
  let what = e.message ?? e.keyword;
  if (e.keyword === 'const') what += ` ${JSON.stringify(e.params.allowedValue)}`;
  if (e.keyword === 'enum') what += ` ${JSON.stringify(e.params.allowedValues)}`;
  const where = `${prefix}${e.instancePath}` || '/';
  return `${where} ${what} (${e.schemaPath})`;
}

function problems(id: string, value: unknown, prefix = ''): string[] {
  const v = validator(id);
  return v(value) ? [] : (v.errors ?? []).map((e) => errorLine(e, prefix));
}

/**
 * Problems of an in-toto Statement v1 (empty when valid). When its predicateType is SLSA provenance v1 or SLSA
 * VSA v1, its predicate is checked too, with paths under /predicate.
 */
export function validateStatement(json: unknown): string[] {
  const found = problems(STATEMENT, json);
  const s = json as { predicateType?: unknown; predicate?: unknown } | null;
  const predicateSchema =
    typeof s === 'object' && s !== null && typeof s.predicateType === 'string'
      ? PREDICATE_SCHEMAS[s.predicateType]
      : undefined;
  if (predicateSchema) {
    if (s?.predicate === undefined)
      found.push(`/predicate missing: ${s?.predicateType} defines required fields`);
    else found.push(...problems(predicateSchema, s.predicate, '/predicate'));
  }
  return found;
}

/** Problems of a SLSA provenance v1 predicate (the `predicate` member of the Statement), empty when valid. */
export function validateProvenance(predicate: unknown): string[] {
  return problems(PROVENANCE, predicate);
}

/** Problems of a SLSA Verification Summary v1 predicate (SLSA v1.0 rules), empty when valid. */
export function validateVsa(predicate: unknown): string[] {
  return problems(VSA, predicate);
}
