/**
 * The agent's files in its state directory: `state.json` (the core's persisted state, written
 * atomically and durably, read back strictly), `status.json` (the shell's view for people: the
 * status and since when) and `agent.pid`.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeState, encodeState, MAX_STATE_BYTES, StateError, type PersistedState } from './state.ts';

/** File names inside the state directory. */
export const STATE_FILES = Object.freeze({
  state: 'state.json',
  status: 'status.json',
  pid: 'agent.pid',
  ownerRequest: 'owner-request.json',
  ownerSecret: 'owner-secret.json',
});

/** The file-system calls the writer makes; tests inject a failing `rename` to simulate a crash. */
export interface StateFs {
  readonly rename: (from: string, to: string) => Promise<void>;
}

const REAL_FS: StateFs = { rename };

/**
 * Writes `text` to `path` atomically and durably: a temp file in the same directory (mode
 * 0600), fsync, rename over `path`, fsync of the directory. A crash at any point leaves either
 * the old file or the new one, never a mix; the temp file is removed on failure.
 */
export async function writeFileDurable(
  path: string,
  text: string,
  options: { dir: string; fs?: StateFs },
): Promise<void> {
  const fs = options.fs ?? REAL_FS;
  const name = path.slice(options.dir.length + 1);
  const temp = join(options.dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  // The rename is durable only once the directory entry is on disk.
  const dirHandle = await open(options.dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** Creates the state directory (mode 0700) if it is missing. */
export async function ensureStateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Writes `state.json` atomically ({@link writeFileDurable}). */
export async function writeStateFile(
  dir: string,
  state: PersistedState,
  options: { fs?: StateFs } = {},
): Promise<void> {
  await writeFileDurable(join(dir, STATE_FILES.state), encodeState(state), {
    dir,
    ...(options.fs === undefined ? {} : { fs: options.fs }),
  });
}

/** What reading `state.json` found. */
export type StateRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ok'; readonly state: PersistedState }
  /** Refused by decodeState and moved aside to `movedTo` (or left, when the move failed). */
  | {
      readonly kind: 'corrupt';
      readonly error: StateError;
      readonly movedTo?: string;
      readonly moveError?: string;
    };

/**
 * Reads `state.json` without ever throwing on its content: a file `decodeState` refuses is
 * renamed `state.json.corrupt-<time>` so the agent starts fresh and a person can look at it.
 * Throws only on I/O errors other than a missing file.
 */
export async function readStateFile(dir: string, options: { nowMs: number }): Promise<StateRead> {
  const path = join(dir, STATE_FILES.state);
  let text: string;
  try {
    const info = await stat(path);
    // Read no more than the codec accepts: a huge file is corrupt, not a memory problem.
    if (info.size > MAX_STATE_BYTES) text = 'x'.repeat(MAX_STATE_BYTES + 1);
    else text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  try {
    return { kind: 'ok', state: decodeState(text) };
  } catch (err) {
    if (!(err instanceof StateError)) throw err;
    const stamp = new Date(options.nowMs).toISOString().replace(/[:.]/g, '-');
    const movedTo = `${path}.corrupt-${stamp}`;
    try {
      await rename(path, movedTo);
      return { kind: 'corrupt', error: err, movedTo };
    } catch (moveErr) {
      return {
        kind: 'corrupt',
        error: err,
        moveError: moveErr instanceof Error ? moveErr.message : String(moveErr),
      };
    }
  }
}

/** The shell's view of the agent for people (`tattler agent status`, the owner's status page). */
export interface StatusRecord {
  readonly version: 1;
  readonly mode: 'private' | 'identified' | 'off';
  readonly enforcement: boolean;
  /** The core's status: clear, quarantined, overridden, would-quarantine, off. */
  readonly status: string;
  /** Wall-clock time the status last changed (ISO 8601; the device's clock, maybe untrusted). */
  readonly sinceIso: string;
  readonly reason: string;
  /** Wall-clock time of the last accepted answer, if any since the agent started keeping this. */
  readonly lastAcceptedIso?: string;
  /** The outcome of the last `tattler agent override`/`resume` request, matched by its id. */
  readonly ownerRequest?: OwnerRequestOutcome;
}

/** What became of one owner request. */
export interface OwnerRequestOutcome {
  readonly id: string;
  readonly ok: boolean;
  /** One sentence for the person who asked. */
  readonly message: string;
}

/** Writes `status.json` atomically. */
export async function writeStatusFile(dir: string, record: StatusRecord): Promise<void> {
  await writeFileDurable(join(dir, STATE_FILES.status), `${JSON.stringify(record)}\n`, { dir });
}

const STATUSES = ['starting', 'off', 'clear', 'quarantined', 'overridden', 'would-quarantine'];

/** Reads `status.json`; `undefined` when it is missing or not what we wrote (it is advisory). */
export async function readStatusFile(dir: string): Promise<StatusRecord | undefined> {
  let value: unknown;
  try {
    const text = await readFile(join(dir, STATE_FILES.status), 'utf8');
    if (text.length > MAX_STATE_BYTES) return undefined;
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const text = (x: unknown): x is string => typeof x === 'string' && x.length <= 512;
  if (
    v.version !== 1 ||
    !(v.mode === 'private' || v.mode === 'identified' || v.mode === 'off') ||
    typeof v.enforcement !== 'boolean' ||
    !text(v.status) ||
    !STATUSES.includes(v.status) ||
    !text(v.sinceIso) ||
    !text(v.reason) ||
    (v.lastAcceptedIso !== undefined && !text(v.lastAcceptedIso))
  )
    return undefined;
  const r: unknown = v.ownerRequest;
  const request =
    typeof r === 'object' && r !== null
      ? (r as Record<string, unknown>)
      : undefined;
  const ownerRequest =
    request !== undefined &&
    text(request.id) &&
    typeof request.ok === 'boolean' &&
    text(request.message)
      ? { id: request.id, ok: request.ok, message: request.message }
      : undefined;
  return {
    version: 1,
    mode: v.mode,
    enforcement: v.enforcement,
    status: v.status,
    sinceIso: v.sinceIso,
    reason: v.reason,
    ...(v.lastAcceptedIso === undefined ? {} : { lastAcceptedIso: v.lastAcceptedIso }),
    ...(ownerRequest === undefined ? {} : { ownerRequest }),
  };
}

/** Writes `agent.pid` (this process's id and a newline). */
export async function writePidFile(dir: string, pid: number): Promise<void> {
  await writeFileDurable(join(dir, STATE_FILES.pid), `${pid}\n`, { dir });
}

/** Removes `agent.pid` if it still names `pid` (a newer agent's file is left alone). */
export async function removePidFile(dir: string, pid: number): Promise<void> {
  if ((await readPidFile(dir)) === pid) await rm(join(dir, STATE_FILES.pid), { force: true });
}

/** The pid in `agent.pid`, or `undefined` when there is no such file or it holds no pid. */
export async function readPidFile(dir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILES.pid), 'utf8');
  } catch {
    return undefined;
  }
  const match = /^(\d{1,10})\n?$/.exec(text);
  const pid = Number(match?.[1]);
  return match === null || !Number.isSafeInteger(pid) || pid <= 1 ? undefined : pid;
}

/**
 * True when `pid` is a running `tattler agent` (its /proc/PID/cmdline names tattler and the
 * `agent` command), so a stale pid file reused by another program is never signalled.
 */
export async function isAgentProcess(pid: number): Promise<boolean> {
  let cmdline: string;
  try {
    cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return false;
  }
  const args = cmdline.split('\0');
  return args.some((a) => /tattler/.test(a)) && args.includes('agent');
}

/** The pid of the agent running with state directory `dir`, if one is. */
export async function findRunningAgent(dir: string): Promise<number | undefined> {
  const pid = await readPidFile(dir);
  return pid !== undefined && (await isAgentProcess(pid)) ? pid : undefined;
}
