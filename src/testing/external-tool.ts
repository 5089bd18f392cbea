/**
 * Runs external programs (tshark, libcoap's client, python3) from tests, always with a timeout,
 * and says why a test that needs one must be skipped when it is not installed.
 * @module
 */
import { execFile } from 'node:child_process';

/** How a tool run ended, with its whole output as text. */
export interface ToolResult {
  /** The exit code, or `null` when the run was aborted through `signal`. */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** The run is an error if the tool has not exited by then. */
  readonly timeoutMs: number;
  /** Aborting ends the tool (SIGTERM); the result then has `exitCode: null`. */
  readonly signal?: AbortSignal;
  /** The environment; default this process's. */
  readonly env?: NodeJS.ProcessEnv;
}

// Enough for tshark's field output of a few 1232-byte datagrams (hex doubles them).
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * Runs `file` with `args` (no shell) and resolves with its exit code and output, whatever the
 * code. Rejects when the tool cannot be started or outlives `timeoutMs`.
 * @example const { exitCode, stdout } = await runTool('tshark', ['-r', pcap], { timeoutMs: 10_000 });
 */
export function runTool(
  file: string,
  args: readonly string[],
  options: RunToolOptions,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        encoding: 'utf8',
        timeout: options.timeoutMs,
        maxBuffer: MAX_OUTPUT_BYTES,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
        ...(options.env === undefined ? {} : { env: options.env }),
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ exitCode: 0, stdout, stderr });
        } else if (error.name === 'AbortError') {
          resolve({ exitCode: null, stdout, stderr });
        } else if (typeof error.code === 'number') {
          resolve({ exitCode: error.code, stdout, stderr });
        } else if (error.killed === true) {
          reject(
            new Error(`${file}: still running after ${options.timeoutMs} ms`, { cause: error }),
          );
        } else {
          reject(
            new Error(`${file}: failed (${String(error.signal ?? error.code)})`, { cause: error }),
          );
        }
      },
    );
  });
}

/** Options of {@link checkTool}. */
export interface CheckToolOptions {
  /** Where the tool comes from, for the skip message (e.g. `the Debian package tshark`). */
  readonly installHint: string;
  /** Exit codes that count as working; absent: the tool only has to start. */
  readonly exitCodes?: readonly number[];
}

/**
 * Why a test cannot use `file`, or `undefined` when it can: runs `file args` once and checks that
 * it starts (and exits with one of `exitCodes`, if given). The reason goes into `{ skip }`.
 * @example test('…', { skip: await checkTool('tshark', ['--version'], { installHint, exitCodes: [0] }) }, …)
 */
export async function checkTool(
  file: string,
  args: readonly string[],
  options: CheckToolOptions,
): Promise<string | undefined> {
  let result: ToolResult;
  try {
    result = await runTool(file, args, { timeoutMs: 10_000 });
  } catch {
    return `${file} is not available (install ${options.installHint})`;
  }
  if (
    options.exitCodes !== undefined &&
    (result.exitCode === null || !options.exitCodes.includes(result.exitCode))
  ) {
    return `\`${[file, ...args].join(' ')}\` exited with ${String(result.exitCode)} (install ${options.installHint})`;
  }
  return undefined;
}
