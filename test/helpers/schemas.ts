import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { REPO } from './env.js';

/** The JSON Schemas of `--json` outputs that ship with the package (schemas/*.schema.json), by file stem. */
export function loadOutputSchemas(): Map<string, Record<string, unknown>> {
  const dir = join(REPO, 'schemas');
  return new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith('.schema.json'))
      .map((f) => [f.replace(/\.schema\.json$/, ''), JSON.parse(readFileSync(join(dir, f), 'utf8'))]),
  );
}

const validators = new Map<string, ValidateFunction>();
const ajv = new Ajv({ allErrors: true, strict: true });

/**
 * Validate one `--json` output against schemas/<name>.schema.json; returns the problems (empty when valid), each
 * with the instance path, so a failing test says which member drifted.
 */
export function schemaProblems(name: string, value: unknown): string[] {
  let v = validators.get(name);
  if (!v) {
    const schema = loadOutputSchemas().get(name);
    if (!schema) return [`no schema schemas/${name}.schema.json`];
    v = ajv.compile(schema);
    validators.set(name, v);
  }
  if (v(value)) return [];
  return (v.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}
