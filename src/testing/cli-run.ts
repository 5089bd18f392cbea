/**
 * Runs the `tattler` CLI in-process with captured output (tests only): `run(argv, io)` style.
 * @module
 */
import { CommanderError, type Command } from 'commander';
import { CliExit } from '../cli/exit.ts';
import { buildProgram } from '../cli/program.ts';

/** The outcome of one CLI run. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `tattler ...argv` and returns its exit code and captured stdout/stderr (as main.ts would). */
export async function runCli(argv: readonly string[]): Promise<CliRun> {
  let out = '';
  let err = '';
  const program = buildProgram({ out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
  const override = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return { code: 0, out, err };
  } catch (e) {
    if (e instanceof CliExit) return { code: e.code, out, err };
    if (e instanceof CommanderError) return { code: e.exitCode, out, err };
    err += `tattler: ${e instanceof Error ? e.message : String(e)}\n`;
    return { code: 1, out, err };
  }
}
