/**
 * Config files shared by the programs (docs/collector.md, docs/agent.md): reading a YAML 1.2 file
 * with a size cap, parsing it strictly, and turning zod issues into problems that name the key,
 * the problem and the fix.
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';

/** Largest config file: 1 MiB. A real one is a few KiB; the cap bounds the YAML parser's work. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Most YAML alias expansions: refuses "billion laughs" documents before they expand. */
const MAX_YAML_ALIASES = 100;

/** One problem in a config file: where (`listen[1].address`) and what, with the fix. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** `file: path: message`, the line printed for one problem. */
export function formatProblem(file: string, problem: ConfigProblem): string {
  return problem.path === ''
    ? `${file}: ${problem.message}`
    : `${file}: ${problem.path}: ${problem.message}`;
}

/** A config file that cannot be used; `problems` lists every problem found, in file order. */
export class ConfigError extends Error {
  override readonly name: string = 'ConfigError';
  readonly file: string;
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: readonly ConfigProblem[], options?: ErrorOptions) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'), options);
    this.file = file;
    this.problems = problems;
  }
}

/** What a program's config is, for the messages of the shared checks. */
export interface ConfigKind {
  /** `collector`, `agent`: "a collector config is a few KiB". */
  readonly program: string;
  /** Where to start from when the file is empty, e.g. `examples/collector.yaml (docs/collector.md)`. */
  readonly example: string;
}

/** `listen[1].address` from zod's path array. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path)
    out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out;
}

/**
 * Parses YAML 1.2 text (unique keys, core schema, bounded aliases) into plain data; throws
 * {@link ConfigError} with the line and column of each syntax error.
 */
export function parseConfigYaml(text: string, file: string, kind: ConfigKind): unknown {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) {
    throw new ConfigError(file, [
      {
        path: '',
        message: `${bytes} bytes, at most ${MAX_CONFIG_BYTES} (1 MiB) — a ${kind.program} config is a few KiB; check that this is the right file`,
      },
    ]);
  }
  const lines = new LineCounter();
  const document = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    version: '1.2',
    schema: 'core',
  });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((error) => {
        const { line, col } = lines.linePos(error.pos[0]);
        return {
          path: `line ${line}, column ${col}`,
          message: `${error.message.split('\n')[0] ?? 'YAML error'} — fix the YAML syntax there`,
        };
      }),
    );
  }
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    throw new ConfigError(
      file,
      [
        {
          path: '',
          message: `${err instanceof Error ? err.message : String(err)} — write the values out instead of nesting aliases`,
        },
      ],
      { cause: err },
    );
  }
  if (data === null || data === undefined) {
    throw new ConfigError(file, [
      { path: '', message: `the file is empty — start from ${kind.example}` },
    ]);
  }
  return data;
}

/** Every issue of a failed zod parse as problems; unknown keys one problem each. */
export function problemsOf(error: z.core.$ZodError): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      // section() puts one line per unknown key into the message, in the order of `keys`.
      const messages = issue.message.split('\n');
      issue.keys.forEach((key, i) =>
        problems.push({
          path: formatPath([...issue.path, key]),
          message: messages[i] ?? 'unknown key — remove it',
        }),
      );
    } else {
      problems.push({ path, message: issue.message });
    }
  }
  return problems;
}

/** Reads a config file as UTF-8 text (size checked before reading); throws {@link ConfigError}. */
export async function readConfigText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    const info = await stat(file);
    if (!info.isFile())
      throw new ConfigError(file, [
        { path: '', message: 'not a regular file — pass the YAML config file' },
      ]);
    if (info.size > MAX_CONFIG_BYTES) {
      throw new ConfigError(file, [
        {
          path: '',
          message: `${info.size} bytes, at most ${MAX_CONFIG_BYTES} (1 MiB) — check that this is the right file`,
        },
      ]);
    }
    bytes = await readFile(file);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : `cannot read (${code ?? 'error'})`;
    throw new ConfigError(
      file,
      [{ path: '', message: `${problem} — check the path and permissions` }],
      { cause: err },
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ConfigError(
      file,
      [{ path: '', message: 'not UTF-8 text — save the file as UTF-8' }],
      { cause: err },
    );
  }
}

/** Freezes a parsed config and everything in it (typed arrays excepted: they cannot be frozen). */
export function deepFreeze<T>(value: T): T {
  if (
    typeof value === 'object' &&
    value !== null &&
    !ArrayBuffer.isView(value) &&
    !Object.isFrozen(value)
  ) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
