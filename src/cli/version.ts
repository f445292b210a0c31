import { readFileSync } from 'node:fs';

/**
 * The package's version, read from its package.json: the file two folders up from this module (src/cli/ in the
 * sources, dist/cli/ once built; the package root either way). Never a copy kept by hand.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
