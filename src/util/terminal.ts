/**
 * Text that others chose — task names, artifact names, messages and error bodies from a queue or a mirror — is
 * printed with every character that could move the cursor, recolour or erase the screen, reorder, hide or split
 * text shown as an escape instead: C0 and C1 controls and DEL (Unicode category Cc, so ESC/CSI sequences lose their
 * introducer), format characters (Cf: the bidi embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069,
 * the marks U+200E, U+200F, U+061C, zero-width characters, the soft hyphen, tag characters), the line and
 * paragraph separators (Zl, Zp) and lone surrogates (Cs).
 *
 * Escapes are JSON's: `\n`, `\r`, `\t`, else `\uXXXX` per UTF-16 unit, so escaping the inside of a JSON string
 * keeps it valid JSON with the same value.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function escapeChar(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/** One field or message on one line: every unsafe character escaped, line feeds and tabs included. */
export function escapeControls(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/**
 * Whole output text (the CLI's last guard on stdout and stderr): every unsafe character escaped except the
 * output's own layout — line feeds, tabs, and a carriage return that starts the text (a progress line rewriting
 * itself). Fields that must stay on their line are escaped with escapeControls before.
 */
export function terminalSafe(s: string): string {
  return s.replace(UNSAFE, (c: string, offset: number) =>
    c === '\n' || c === '\t' || (c === '\r' && offset === 0) ? c : escapeChar(c),
  );
}
