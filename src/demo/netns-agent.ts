/**
 * One demo device's `tattler agent` process inside its network namespace: started with
 * `ip netns exec` (which execs, so the pid is the agent's), its output read line by line with a
 * length limit, copied to `agent.log` (without the owner secret), and its JSON log lines mapped to
 * the demo's device events (docs/agent.md, "Logs").
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { z } from 'zod';
import type { DemoStatus, DeviceEvent } from './types.ts';

/** The longest output line kept whole; the agent's JSON lines are well under 4 KiB. */
const MAX_LINE_CHARS = 64 * 1024;
/** What the agent prints once on stderr before the owner secret (src/agent/daemon.ts). */
const SECRET_PREFIX =
  'tattler agent: owner secret for the status page (shown once, write it down): ';
/** The owner secret's shape: groups of upper-case letters and digits joined by `-`. */
const SECRET_PATTERN = /^[A-Z0-9]+(?:-[A-Z0-9]+)*$/;
/** pino's numeric level of `error`. */
const PINO_ERROR = 50;

const STATUSES: readonly DemoStatus[] = ['pass', 'fail', 'warn', 'unknown'];

const logLineJson = z.looseObject({
  level: z.number(),
  time: z.string(),
  event: z.string(),
  msg: z.string().optional(),
  status: z.string().optional(),
  code: z.string().optional(),
});

/** One parsed JSON log line of the agent: its event, time and the fields the demo reads. */
export interface AgentLogLine {
  readonly event: string;
  readonly level: number;
  readonly atMs: number;
  readonly message: string;
  readonly status?: string;
  readonly code?: string;
}

/** Parses one output line of `tattler agent --log-format json`; `undefined` for anything else. */
export function parseAgentLogLine(line: string): AgentLogLine | undefined {
  if (!line.startsWith('{') || line.length > MAX_LINE_CHARS) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = logLineJson.safeParse(value);
  if (!parsed.success) return undefined;
  const atMs = Date.parse(parsed.data.time);
  return {
    event: parsed.data.event,
    level: parsed.data.level,
    atMs: Number.isFinite(atMs) ? atMs : Date.now(),
    message: parsed.data.msg ?? '',
    ...(parsed.data.status === undefined ? {} : { status: parsed.data.status }),
    ...(parsed.data.code === undefined ? {} : { code: parsed.data.code }),
  };
}

function isDemoStatus(value: string | undefined): value is DemoStatus {
  return STATUSES.some((status) => status === value);
}

/**
 * The device event of one agent log line, if it is one the demo shows: `started`, `announce`,
 * `accepted` (a verdict), `quarantined`, `lifted`, and errors (level error, `route_error`,
 * `refused`). The agent's `stopped` line is not mapped: the process exit is.
 */
export function deviceEventOf(device: string, line: AgentLogLine): DeviceEvent | undefined {
  const at = { device, atMs: line.atMs };
  switch (line.event) {
    case 'started':
      return { ...at, kind: 'started' };
    case 'announce':
      return { ...at, kind: 'announced' };
    case 'accepted':
      return isDemoStatus(line.status)
        ? { ...at, kind: 'verdict', status: line.status }
        : undefined;
    case 'quarantined':
      return { ...at, kind: 'quarantined', detail: line.message };
    case 'lifted':
      return { ...at, kind: 'lifted', detail: line.message };
    case 'refused':
      return { ...at, kind: 'error', detail: `refused ${line.code ?? ''}: ${line.message}` };
    default:
      if (line.level >= PINO_ERROR || line.event === 'route_error') {
        return { ...at, kind: 'error', detail: `${line.event}: ${line.message}` };
      }
      return undefined;
  }
}

/** The owner secret in an agent's stderr line, if the line is the one that prints it. */
export function ownerSecretOf(line: string): string | undefined {
  if (!line.startsWith(SECRET_PREFIX)) return undefined;
  const secret = line.slice(SECRET_PREFIX.length).trim();
  return SECRET_PATTERN.test(secret) && secret.length <= 128 ? secret : undefined;
}

/** Splits a text stream into lines; a line longer than {@link MAX_LINE_CHARS} is cut there. */
function onLines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      each(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    if (pending.length > MAX_LINE_CHARS) {
      each(pending.slice(0, MAX_LINE_CHARS));
      pending = '';
    }
  });
  stream.on('end', () => {
    if (pending !== '') each(pending);
    pending = '';
  });
}

/** What starts one agent. */
export interface DemoAgentOptions {
  readonly device: string;
  readonly namespace: string;
  readonly configPath: string;
  /** Where its output is appended (the owner secret line is replaced by a note). */
  readonly logPath: string;
  /** bin/tattler.js. */
  readonly tattlerBin: string;
  readonly onEvent: (event: DeviceEvent) => void;
}

type LineWaiter = (line: AgentLogLine | undefined) => void;

/** A running `tattler agent` in a namespace, watched line by line. */
export class DemoAgentProcess {
  readonly device: string;
  /** Settles once the process has exited, with its exit code or signal name. */
  readonly exited: Promise<number | string>;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  readonly #waiters = new Set<LineWaiter>();
  readonly #tail: string[] = [];
  #secret: string | undefined;
  #done = false;

  /** Spawns `ip netns exec <ns> <node> <tattler.js> agent --config … --log-format json`. */
  constructor(options: DemoAgentOptions) {
    this.device = options.device;
    this.#log = createWriteStream(options.logPath, { flags: 'a', mode: 0o600 });
    this.#log.on('error', () => undefined);
    this.#child = spawn(
      'ip',
      [
        'netns',
        'exec',
        options.namespace,
        process.execPath,
        options.tattlerBin,
        'agent',
        '--config',
        options.configPath,
        '--log-format',
        'json',
      ],
      // Its own process group: a Ctrl-C at the terminal reaches the demo, which stops the agents
      // in order, and not every agent at once in the middle of its start.
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    this.exited = new Promise((resolve) => {
      this.#child.once('close', (code, signal) => {
        this.#done = true;
        for (const waiter of [...this.#waiters]) waiter(undefined);
        this.#log.end();
        options.onEvent({ device: this.device, kind: 'stopped', atMs: Date.now() });
        resolve(code ?? signal ?? 'unknown');
      });
    });
    this.#child.once('error', (err) => {
      this.#keep(`tattler demo: could not start the agent: ${err.message}`);
    });
    const onLine = (line: string): void => {
      const secret = ownerSecretOf(line);
      if (secret !== undefined) {
        this.#secret = secret;
        // The secret is for the owner (the demo prints it once), not for log files.
        this.#keep(`${SECRET_PREFIX}(not kept in this log)`);
        return;
      }
      this.#keep(line);
      const parsed = parseAgentLogLine(line);
      if (parsed === undefined) return;
      const event = deviceEventOf(this.device, parsed);
      if (event !== undefined) options.onEvent(event);
      for (const waiter of [...this.#waiters]) waiter(parsed);
    };
    if (this.#child.stdout !== null) onLines(this.#child.stdout, onLine);
    if (this.#child.stderr !== null) onLines(this.#child.stderr, onLine);
  }

  #keep(line: string): void {
    this.#log.write(`${line}\n`);
    this.#tail.push(line);
    if (this.#tail.length > 20) this.#tail.shift();
  }

  /** The process id, while known. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Whether the process has exited. */
  get done(): boolean {
    return this.#done;
  }

  /** The owner secret, once the agent has printed it. */
  get secret(): string | undefined {
    return this.#secret;
  }

  /** The last output lines, for an error message. */
  tail(): string {
    return this.#tail.join('\n');
  }

  /**
   * Resolves with the next log line (from now on) whose event is one of `events`; rejects when
   * the process exits or `timeoutMs` passes first.
   */
  nextEvent(events: readonly string[], timeoutMs: number): Promise<AgentLogLine> {
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        finish();
        reject(
          new Error(
            `agent of ${this.device}: ${why} before ${events.join('/')}; last output:\n${this.tail()}`,
          ),
        );
      };
      const waiter: LineWaiter = (line) => {
        if (line === undefined) fail('exited');
        else if (events.includes(line.event)) {
          finish();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        fail(`nothing in ${String(timeoutMs)} ms`);
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      if (this.#done) fail('exited');
      else this.#waiters.add(waiter);
    });
  }

  /** Sends `signal` (no-op once exited). */
  signal(signal: NodeJS.Signals): void {
    if (!this.#done) this.#child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
  async stop(graceMs: number): Promise<number | string> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => {
      this.signal('SIGKILL');
    }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
