/**
 * The `tattler` command: one subcommand per role. The only place that reads argv, sets the exit
 * code and decides what the user sees on failure.
 * @module
 */
import { Command } from 'commander';
import { CliExit } from './exit.ts';
import { buildProgram } from './program.ts';

/** Runs the CLI with `argv` (as `process.argv`); sets `process.exitCode` on failure. */
export async function main(argv: readonly string[]): Promise<void> {
  const program: Command = buildProgram({ out: process.stdout, err: process.stderr, env: process.env });
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CliExit) {
      process.exitCode = err.code;
      return;
    }
    process.stderr.write(`tattler: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
