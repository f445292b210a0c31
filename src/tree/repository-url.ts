/**
 * A repository URL a verifier may act on (fetch from, name a folder after, match against trusted repository rules):
 * `https://<host>/<segment>/...`, with a host of letters, digits, dots and hyphens and no port or credentials, and
 * path segments of letters, digits, `_`, `.` and `-` that do not start with a dot (so no `.` or `..`), no
 * percent-escapes, no query and no fragment; one trailing `/` is allowed. URL parsers normalise `..` and decode
 * `%2e%2e` silently, so the raw string is checked before anything parses it: a task's `<PREFIX>_HEAD_REPOSITORY`
 * can then never name another repository's files, folder or trust than the one it spells. Stricter than the reference
 * (which fetches `<repo>/raw-file/...` from whatever string the task holds on an allowed host).
 */
const PLAIN_REPOSITORY_URL =
  /^https:\/\/[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+\/?$/;

/** Whether `url` is a plain repository URL (see above). Pure. */
export function isPlainRepositoryUrl(url: string): boolean {
  return PLAIN_REPOSITORY_URL.test(url);
}
