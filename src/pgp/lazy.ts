/**
 * OpenPGP.js is loaded on first use only: commands that never touch OpenPGP (hash, ed25519 signing and
 * verification, --help) start without paying for it.
 */
type PgpModule = typeof import('./openpgp.js');
let loaded: Promise<PgpModule> | undefined;

export function loadPgp(): Promise<PgpModule> {
  loaded ??= import('./openpgp.js');
  return loaded;
}
