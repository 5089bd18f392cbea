/**
 * A CLI outcome that is not a crash: the command has said what it had to and wants `code`.
 * @module
 */

/** Thrown by a command to end with exit status `code` after its own output (no extra message). */
export class CliExit extends Error {
  override readonly name = 'CliExit';
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}
