/**
 * The streams a CLI command writes to, injected so tests capture them.
 * @module
 */

/** Output streams of one CLI run. */
export interface CliIo {
  readonly out: { write(text: string): unknown };
  readonly err: { write(text: string): unknown };
  /** Environment variables, for defaults such as the feed database path (main passes process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}
