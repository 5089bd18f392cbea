/**
 * The demo's `ip` runner (iproute2): one command at a time with a timeout, its output parsed at the
 * edge with limits, and the few questions the netns fleet asks the kernel (namespaces, links,
 * rules, routes, the processes in a namespace).
 * @module
 */
import { execFile } from 'node:child_process';
import { z } from 'zod';

/** How long one `ip` run may take: namespace and link changes take milliseconds. */
export const IP_TIMEOUT_MS = 10_000;
/** The most output one `ip` run may print: a `route show table all` of a busy host fits easily. */
const MAX_IP_OUTPUT_BYTES = 4 * 1024 * 1024;

/** Why an `ip` command failed: it could not be run, or it exited non-zero. */
export type IpErrorCode = 'IP_UNAVAILABLE' | 'IP_FAILED';

/** A failed `ip` command; `message` names the command and carries its stderr. */
export class IpError extends Error {
  override readonly name = 'IpError';
  readonly code: IpErrorCode;
  constructor(code: IpErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** How an `ip` run ended. */
export interface IpResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ip args` (no shell) and resolves with its exit code and output, whatever the code. */
export function runIpRaw(args: readonly string[]): Promise<IpResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'ip',
      args,
      { encoding: 'utf8', timeout: IP_TIMEOUT_MS, maxBuffer: MAX_IP_OUTPUT_BYTES },
      (error, stdout, stderr) => {
        if (error === null) resolve({ exitCode: 0, stdout, stderr });
        else if (typeof error.code === 'number') resolve({ exitCode: error.code, stdout, stderr });
        else
          reject(
            new IpError('IP_UNAVAILABLE', `ip ${args.join(' ')}: ${error.message}`, {
              cause: error,
            }),
          );
      },
    );
  });
}

/** Runs `ip args` and resolves with stdout; rejects with {@link IpError} naming the command. */
export async function runIp(args: readonly string[]): Promise<string> {
  const result = await runIpRaw(args);
  if (result.exitCode !== 0) {
    throw new IpError(
      'IP_FAILED',
      `ip ${args.join(' ')}: ${result.stderr.trim() || `exit ${String(result.exitCode)}`}`,
    );
  }
  return result.stdout;
}

/** `ip -json` output as a value; an empty output (some commands print nothing for "none") is `[]`. */
function parseIpJson<T>(schema: z.ZodType<T>, text: string, what: string): T {
  const trimmed = text.trim();
  let value: unknown = [];
  if (trimmed !== '') {
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new IpError('IP_FAILED', `${what}: not JSON`, { cause: err });
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new IpError('IP_FAILED', `${what}: unexpected JSON shape`);
  return parsed.data;
}

const netnsListJson = z.array(z.looseObject({ name: z.string() }));

/** The names of every named network namespace (`ip -json netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const text = await runIp(['-json', 'netns', 'list']);
  return parseIpJson(netnsListJson, text, 'ip netns list').map((entry) => entry.name);
}

/** Whether the link `name` exists in the host's namespace. */
export async function hasHostLink(name: string): Promise<boolean> {
  const result = await runIpRaw(['-json', 'link', 'show', 'dev', name]);
  return result.exitCode === 0;
}

const ruleJson = z.array(
  z.looseObject({ priority: z.number().optional(), table: z.string().optional() }),
);

/**
 * Whether namespace `ns` has the rule `priority lookup table` (`ip -N -json rule`: tables as
 * numbers, so an rt_tables entry cannot rename ours; docs/agent.md "Notes on ip -json").
 */
export async function hasLookupRule(
  ns: string,
  rule: { readonly priority: number; readonly table: number },
): Promise<boolean> {
  const text = await runIp(['-n', ns, '-N', '-json', 'rule', 'show']);
  return parseIpJson(ruleJson, text, `ip rule in ${ns}`).some(
    (entry) => entry.priority === rule.priority && entry.table === String(rule.table),
  );
}

const routeJson = z.array(z.looseObject({ dst: z.string().optional() }));

/**
 * The destinations of the host's IPv4 routes, in any table, that lie inside `prefix` (`root`) or
 * contain it (`match`, default routes left out): any of them means the prefix is in use here.
 */
export async function hostRoutesOverlapping(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const selector of ['root', 'match'] as const) {
    const text = await runIp(['-4', '-json', 'route', 'show', 'table', 'all', selector, prefix]);
    for (const entry of parseIpJson(routeJson, text, 'ip route')) {
      const dst = entry.dst ?? '?';
      if (dst !== 'default' && dst !== '0.0.0.0/0') found.push(dst);
    }
  }
  return found;
}

/** The process ids in namespace `ns` (`ip netns pids`); none when it is gone. */
export async function namespacePids(ns: string): Promise<number[]> {
  const result = await runIpRaw(['netns', 'pids', ns]);
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^[1-9][0-9]{0,9}$/.test(line))
    .map(Number);
}
