import { JSON_SCHEMA_VERSION } from '../chain/report.js';
import type { ErrorCode } from '../errors.js';
import { escapeControls } from '../util/terminal.js';

/** Where a command writes, and the run's reference time. */
export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** the reference time of this run (captured once) */
  now: Date;
  /** set by a command that reported its own failure (e.g. a chain that did not verify) */
  exitCode?: number;
  /** stderr is a terminal (progress display allowed) */
  isTTY?: boolean;
}

/** Every --json output: `schemaVersion` first (its shape: schemas/<command>.schema.json), then the command's members. */
export function jsonOut(io: Io, value: Record<string, unknown>): void {
  io.stdout(`${JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, ...value }, null, 2)}\n`);
}

/** A failure a command reports itself (its output already printed): the error line, and the run's exit code. */
export interface ReportedFailure {
  code: ErrorCode;
  exitCode: number;
  message: string;
}

/** Print `cot: CODE: message` (one line) and set the exit code of the run. */
export function reportFailure(io: Io, failure: ReportedFailure): void {
  io.stderr(`cot: ${failure.code}: ${escapeControls(failure.message)}\n`);
  io.exitCode = failure.exitCode;
}

/** `error` of a --json output that reports a failure: its code and message. */
export function failureJson(failure: ReportedFailure | undefined): Record<string, unknown> {
  return failure ? { error: { code: failure.code, message: failure.message } } : {};
}

/** `1 artifact`, `2 artifacts`: a count with its noun in the right number (`plural` for irregular nouns). */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
