import { CotError, optionRef } from '../errors.js';

/**
 * Strict parser for the OpenPGP cleartext signature framework (RFC 4880 section 7 / RFC 9580 section 7).
 * Pure string handling, no cryptography. It decides exactly which text the signature covers, so that only
 * that text is ever verified, parsed or reported. It refuses anything ambiguous:
 *  - any byte before "-----BEGIN PGP SIGNED MESSAGE-----" or after "-----END PGP SIGNATURE-----"
 *    (so a second signed block appended to the first is refused);
 *  - headers other than "Hash:"; a line starting with "-" that is not dash-escaped;
 *  - trailing spaces/tabs and control characters (form feed included) in the text: the signature would not
 *    cover them exactly (the class of GnuPG CVE-2025-68972);
 *  - a stray carriage return (LF and CRLF line endings are both accepted, uniformly normalised to LF).
 */

const BEGIN_SIGNED = '-----BEGIN PGP SIGNED MESSAGE-----';
const BEGIN_SIGNATURE = '-----BEGIN PGP SIGNATURE-----';
const END_SIGNATURE = '-----END PGP SIGNATURE-----';

interface ParsedCleartext {
  /** The signed text, dash-escapes removed, lines joined with LF, no final line ending. */
  text: string;
  /** Hash algorithm names from the Hash: headers, upper case (e.g. ["SHA512"]). */
  hashHeaders: string[];
  /** The armored signature block, LF line endings. */
  armoredSignature: string;
}

const malformed = (source: string, why: string, options?: string[]): never => {
  throw new CotError('SIGNATURE_MALFORMED', `${source}: ${why}`, options ? { details: { options } } : {});
};

/** Characters that may not appear in signed text: C0 controls other than TAB, and DEL. */
const FORBIDDEN_TEXT_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export function isCleartextSigned(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, BEGIN_SIGNED.length)).toString('latin1');
  return head === BEGIN_SIGNED;
}

export function parseCleartext(input: string, source = 'cleartext'): ParsedCleartext {
  const first = input.indexOf('-----BEGIN PGP');
  if (first !== 0) {
    if (first > 0) malformed(source, 'data before the BEGIN line (only the signed block may be present)');
    malformed(source, 'not an OpenPGP cleartext-signed message (no BEGIN PGP SIGNED MESSAGE line)');
  }
  const rawLines = input.split('\n');
  const lines = rawLines.map((l, i) => {
    const body = l.endsWith('\r') ? l.slice(0, -1) : l;
    if (body.includes('\r')) malformed(source, `stray carriage return on line ${i + 1}`);
    return body;
  });
  if (lines[0] !== BEGIN_SIGNED) {
    if (lines[0] === '-----BEGIN PGP MESSAGE-----') {
      malformed(source, 'this is an inline-signed (or encrypted) OpenPGP message, not a cleartext signature');
    }
    if (lines[0] === BEGIN_SIGNATURE) {
      malformed(
        source,
        `this is a detached signature, not a cleartext-signed message (pass it with ${optionRef('signature')})`,
        ['signature'],
      );
    }
    malformed(source, `unexpected first line ${JSON.stringify(lines[0]?.slice(0, 60))}`);
  }
  let i = 1;
  const hashHeaders: string[] = [];
  for (; i < lines.length && lines[i] !== ''; i++) {
    const m = /^Hash: ?(.+)$/.exec(lines[i]!);
    if (!m)
      malformed(
        source,
        `unexpected armor header ${JSON.stringify(lines[i]!.slice(0, 60))} (only Hash: is allowed)`,
      );
    for (const h of m![1]!.split(',')) hashHeaders.push(h.trim().toUpperCase());
  }
  if (i >= lines.length) malformed(source, 'no blank line after the headers');
  i++;
  const text: string[] = [];
  for (; i < lines.length && lines[i] !== BEGIN_SIGNATURE; i++) {
    let line = lines[i]!;
    if (line.startsWith('-')) {
      if (!line.startsWith('- ')) {
        malformed(source, `line ${i + 1} starts with "-" but is not dash-escaped (a nested armor block?)`);
      }
      line = line.slice(2);
    }
    if (/[ \t]$/.test(line)) {
      malformed(
        source,
        `line ${i + 1} of the signed text ends with whitespace, which the signature does not cover`,
      );
    }
    if (FORBIDDEN_TEXT_CHARS.test(line)) {
      malformed(source, `line ${i + 1} of the signed text contains a control character`);
    }
    text.push(line);
  }
  if (i >= lines.length) malformed(source, 'no BEGIN PGP SIGNATURE line');
  const sigStart = i;
  for (; i < lines.length && lines[i] !== END_SIGNATURE; i++);
  if (i >= lines.length) malformed(source, 'no END PGP SIGNATURE line');
  const armoredSignature = `${lines.slice(sigStart, i + 1).join('\n')}\n`;
  for (let j = i + 1; j < lines.length; j++) {
    if (lines[j] !== '')
      malformed(source, 'data after the END PGP SIGNATURE line (only the signed block may be present)');
  }
  // The final line ending before BEGIN PGP SIGNATURE belongs to the framing, not to the text.
  return { text: text.join('\n'), hashHeaders, armoredSignature };
}

/**
 * The longest line, in characters (bytes: cot only signs ASCII), that GnuPG verifies in a cleartext-signed file
 * with LF line endings, counted as written (a dash-escaped line with its "- "), without the LF.
 * Source: GnuPG's armor filter (g10/armor.c, MAX_LINELEN 20000) reads each cleartext line with
 * iobuf_read_line, which keeps at most MAX_LINELEN - 1 bytes including the line ending; a longer line is cut and
 * reported "invalid armor: line longer than 20000 characters", and the signature then fails. Checked with GnuPG
 * 2.2.40: 19,998 characters verify, 19,999 do not (test/interop/gnupg-line-limit.test.ts). gpg --clearsign itself
 * cuts its input at 19,995 characters, with only a warning.
 */
export const GNUPG_MAX_CLEARTEXT_LINE = 19_998;

/**
 * Refuse text that a cleartext signature cannot carry byte-exactly, or that GnuPG could not verify.
 * Throws SIGNING_FAILED (trailing whitespace, control characters) or SIGNING_LINE_TOO_LONG (a framed line over
 * GNUPG_MAX_CLEARTEXT_LINE; details: line (1-based), length, limit).
 */
export function assertCleartextSignable(text: string, source = 'text'): void {
  text.split('\n').forEach((line, i) => {
    if (/[ \t]$/.test(line)) {
      throw new CotError(
        'SIGNING_FAILED',
        `${source}: line ${i + 1} ends with whitespace, which a cleartext signature cannot carry exactly`,
      );
    }
    if (line.includes('\r') || FORBIDDEN_TEXT_CHARS.test(line)) {
      throw new CotError('SIGNING_FAILED', `${source}: line ${i + 1} contains a control character`);
    }
    const length = Buffer.byteLength(line, 'utf8') + (line.startsWith('-') ? 2 : 0);
    if (length > GNUPG_MAX_CLEARTEXT_LINE) {
      throw new CotError(
        'SIGNING_LINE_TOO_LONG',
        `${source}: line ${i + 1} is ${length} characters long, over the ${GNUPG_MAX_CLEARTEXT_LINE} GnuPG can verify in a cleartext signature`,
        { details: { line: i + 1, length, limit: GNUPG_MAX_CLEARTEXT_LINE } },
      );
    }
  });
}

/** Frame a signed text as GnuPG writes it: LF line endings, dash-escaping, text then a newline. */
export function frameCleartext(text: string, hashHeader: string, armoredSignature: string): string {
  const body = text
    .split('\n')
    .map((l) => (l.startsWith('-') ? `- ${l}` : l))
    .join('\n');
  const sig = armoredSignature.replace(/\r\n/g, '\n');
  return `${BEGIN_SIGNED}\nHash: ${hashHeader}\n\n${body}\n${sig.endsWith('\n') ? sig : `${sig}\n`}`;
}
