/**
 * The streams a CLI command writes to, injected so tests capture them.
 * @module
 */

/** Output streams of one CLI run. */
export interface CliIo {
  readonly out: { write(text: string): unknown };
  readonly err: { write(text: string): unknown };
}
