/**
 * The owner's requests from the command line (`tattler agent override` / `resume`): a small JSON
 * file, `owner-request.json` in the state directory, written atomically by the CLI and taken
 * (read and removed) by the daemon on SIGUSR2. The outcome goes back in status.json.
 * @module
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_REASON_BYTES } from './state.ts';
import { readStatusFile, STATE_FILES, writeFileDurable, type StatusRecord } from './state-file.ts';

/** Largest request file read: a reason of 256 bytes, JSON-escaped (≤ 6×), and the keys. */
export const MAX_OWNER_REQUEST_BYTES = 2_048;
/** Longest override from the command line: a year, like the state's lifetime cap. */
export const MAX_OVERRIDE_SECONDS = 366 * 86_400;

/** One request of the device's owner. */
export type OwnerRequest =
  | {
      readonly id: string;
      readonly action: 'override';
      readonly reason: string;
      readonly forSeconds?: number;
    }
  | { readonly id: string; readonly action: 'resume' };

/** Writes the request atomically (mode 0600) for the running daemon. */
export async function writeOwnerRequest(dir: string, request: OwnerRequest): Promise<void> {
  await writeFileDurable(join(dir, STATE_FILES.ownerRequest), `${JSON.stringify(request)}\n`, {
    dir,
  });
}

const ID = /^[0-9a-f]{8,32}$/;
// [P-2.3-1] the same rule as wire text: no control characters.
const CONTROL = /\p{Cc}/u;

/** Parses a request file's text; `undefined` for anything that is not a request we wrote. */
export function decodeOwnerRequest(text: string): OwnerRequest | undefined {
  if (Buffer.byteLength(text) > MAX_OWNER_REQUEST_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== 'string' || !ID.test(v.id)) return undefined;
  if (v.action === 'resume') return { id: v.id, action: 'resume' };
  if (v.action !== 'override') return undefined;
  const reason = v.reason;
  if (
    typeof reason !== 'string' ||
    reason.trim() === '' ||
    Buffer.byteLength(reason) > MAX_REASON_BYTES ||
    CONTROL.test(reason)
  )
    return undefined;
  const forSeconds = v.forSeconds;
  if (forSeconds === undefined) return { id: v.id, action: 'override', reason };
  if (
    typeof forSeconds !== 'number' ||
    !Number.isSafeInteger(forSeconds) ||
    forSeconds <= 0 ||
    forSeconds > MAX_OVERRIDE_SECONDS
  )
    return undefined;
  return { id: v.id, action: 'override', reason, forSeconds };
}

/**
 * Reads and removes the pending request: `undefined` when there is none, `'invalid'` when the
 * file was not a request (it is removed too, so it cannot be retried forever).
 */
export async function takeOwnerRequest(dir: string): Promise<OwnerRequest | 'invalid' | undefined> {
  const path = join(dir, STATE_FILES.ownerRequest);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  await rm(path, { force: true });
  return decodeOwnerRequest(text) ?? 'invalid';
}

/** Poll interval while waiting for an outcome: status.json is small and local. */
const OUTCOME_POLL_MS = 50;

/**
 * Waits until status.json carries the outcome of request `id`, polling until `timeoutMs` has
 * passed; resolves with the record, or `undefined` when no answer came in time.
 */
export async function waitForOwnerOutcome(
  dir: string,
  id: string,
  options: { timeoutMs: number },
): Promise<StatusRecord | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const record = await readStatusFile(dir);
    if (record?.ownerRequest?.id === id) return record;
    if (Date.now() >= deadline) return undefined;
    await sleep(OUTCOME_POLL_MS);
  }
}

/** Why an owner request was refused. */
export type OwnerRequestErrorCode =
  'NOT_QUARANTINED' | 'NOT_COVERED' | 'NOT_OVERRIDDEN' | 'STOPPED';

/** An override or resume the agent refused; the message says why in plain words. */
export class OwnerRequestError extends Error {
  override readonly name = 'OwnerRequestError';
  readonly code: OwnerRequestErrorCode;
  constructor(code: OwnerRequestErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
