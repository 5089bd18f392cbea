/**
 * Fixtures for the agent daemon's tests (tests only): an agent config next to a live collector's
 * files, a recording route layer, a scripted network monitor and a capturing log sink.
 * @module
 */
import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RouteLayer } from '../agent/daemon.ts';
import type { NetworkMonitor, NetworkView } from '../agent/network-monitor.ts';
import type { AllowList } from '../agent/routes.ts';
import { SCHEDULE, type Schedule } from '../agent/schedule.ts';
import type { StartupAllow, StartupWindowLayer } from '../agent/startup-window.ts';
import type { LogFields, LogLevel, LogSink } from '../logging/log.ts';

/** A schedule that announces as soon as the network is up (no settle delay, no jitter). */
export const FAST_SCHEDULE = fastSchedule();

function fastSchedule(): Schedule {
  // Schedule is `typeof SCHEDULE` (literal numbers): a variant is built as a plain record.
  const variant: Record<keyof Schedule, number> = { ...SCHEDULE, networkSettleMs: 0, networkJitterMs: 0 };
  return variant as Schedule;
}

/**
 * Writes `agent.yaml` into `dir` (which holds a live collector's files: root.cbor,
 * collector.cert.cbor) for the fixture device, announcing to 127.0.0.1:`port`.
 */
export async function writeAgentConfig(
  dir: string,
  options: {
    port: number;
    version?: string;
    mode?: 'identified' | 'private' | 'off';
    stateDir?: string;
    extra?: readonly string[];
  },
): Promise<string> {
  const file = join(dir, 'agent.yaml');
  await writeFile(
    file,
    [
      'device:',
      '  vendor: D-Link',
      '  model: DIR-859',
      '  hardwareVersion: A1',
      `  software: {name: firmware, version: "${options.version ?? '1.05B03'}"}`,
      `mode: ${options.mode ?? 'identified'}`,
      `collectors: [{address: 127.0.0.1, port: ${options.port}}]`,
      'trust: {root: root.cbor, certificates: [collector.cert.cbor]}',
      'remediationHosts: [update.example.com]',
      `stateDir: ${options.stateDir ?? 'state'}`,
      ...(options.extra ?? []),
      '',
    ].join('\n'),
  );
  return file;
}

/** One call the route layer got, in order. */
export type RouteCall = { readonly kind: 'apply'; readonly allow: AllowList } | { readonly kind: 'lift' };

/** A route layer that records calls (and, while `failures` > 0, fails them). */
export class RecordingRoutes implements RouteLayer {
  readonly calls: RouteCall[] = [];
  readonly events = new EventEmitter();
  failures = 0;
  /** Appended to with `routes:apply` / `routes:lift`, shared with other recorders. */
  readonly timeline: string[];

  constructor(timeline: string[] = []) {
    this.timeline = timeline;
  }

  apply(allow: AllowList): Promise<void> {
    return this.#record({ kind: 'apply', allow });
  }

  lift(): Promise<void> {
    return this.#record({ kind: 'lift' });
  }

  #record(call: RouteCall): Promise<void> {
    this.timeline.push(`routes:${call.kind}`);
    if (this.failures > 0) {
      this.failures -= 1;
      return Promise.reject(new Error('RTNETLINK answers: Operation not permitted'));
    }
    this.calls.push(call);
    this.events.emit('call', call);
    return Promise.resolve();
  }
}

/** The network of the tests: up, no global address. */
export const LOOPBACK_NETWORK: NetworkView = { hasDefaultRoute: true, addresses: [], onLink: [] };

/** A network monitor the test drives: `start` reports `initial`, `emit` reports a change. */
export class ScriptedNetwork implements NetworkMonitor {
  #onChange: ((view: NetworkView) => void) | undefined;
  readonly #initial: NetworkView;
  stopped = false;

  constructor(initial: NetworkView = LOOPBACK_NETWORK) {
    this.#initial = initial;
  }

  start(onChange: (view: NetworkView) => void): Promise<void> {
    this.#onChange = onChange;
    onChange(this.#initial);
    return Promise.resolve();
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  emit(view: NetworkView): void {
    this.#onChange?.(view);
  }

  stop(): void {
    this.stopped = true;
  }
}

/** One captured log event. */
export interface LogLine {
  readonly level: LogLevel;
  readonly event: string;
  readonly message: string;
  readonly fields: LogFields;
}

/** A log sink that keeps every event and lets a test await one. */
export class CapturedLog {
  readonly lines: LogLine[] = [];
  readonly #events = new EventEmitter();
  readonly sink: LogSink = (level, event, message, fields = {}) => {
    const line = { level, event, message, fields };
    this.lines.push(line);
    this.#events.emit('line', line);
  };

  /** Resolves with the first event named `event` (matching `test`) logged from now on or already. */
  next(event: string, test: (line: LogLine) => boolean = () => true, options: { after?: number } = {}): Promise<LogLine> {
    const found = this.lines.slice(options.after ?? 0).find((l) => l.event === event && test(l));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve) => {
      const listener = (line: LogLine): void => {
        if (line.event !== event || !test(line)) return;
        this.#events.off('line', listener);
        resolve(line);
      };
      this.#events.on('line', listener);
    });
  }

  /** The events logged so far, by name. */
  events(): string[] {
    return this.lines.map((l) => l.event);
  }
}

/** A start-up window that records when it opened and closed. */
export class RecordingWindow implements StartupWindowLayer {
  opened: StartupAllow | undefined;
  closed = false;
  readonly onLinkUpdates: (readonly string[])[] = [];

  open(allow: StartupAllow): Promise<void> {
    this.opened = allow;
    return Promise.resolve();
  }

  updateOnLink(onLink: readonly string[]): Promise<void> {
    this.onLinkUpdates.push(onLink);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
