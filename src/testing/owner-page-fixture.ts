/**
 * Fixtures for the status page's tests (tests only): a quarantined device's status, a fake agent
 * whose override and resume flip it, a settable monotonic clock and a log sink that keeps events.
 * @module
 */
import type { LogFields, LogLevel, LogSink } from '../logging/log.ts';
import type { OwnerStatus } from '../owner/types.ts';

/** A D-Link DIR-859 quarantined for CVE-2019-17621 (CISA KEV, CVSS 9.8, fixed in 1.06B01). */
export const QUARANTINED: OwnerStatus = Object.freeze({
  status: 'quarantined',
  since: '2026-11-26T06:00:00Z',
  device: { vendor: 'D-Link', model: 'DIR-859', softwareVersion: '1.05B03' },
  advisories: [{ id: 'CVE-2019-17621', cvss: 9.8, exploited: true }],
  fixedVersions: ['1.06B01'],
  updateHosts: ['support.dlink.com'],
  mode: 'private',
});

/** One call the fake agent received. */
export type AgentCall =
  | { readonly kind: 'override'; readonly reason: string; readonly forSeconds?: number }
  | { readonly kind: 'resume' };

/** A fake agent behind the page's deps: override and resume flip the status, every call is kept. */
export interface FakeAgent {
  readonly calls: AgentCall[];
  status(): OwnerStatus;
  override(reason: string, forSeconds?: number): Promise<OwnerStatus>;
  resume(): Promise<OwnerStatus>;
  set(status: OwnerStatus): void;
}

/** `status` quarantined again, its override dropped. */
function withoutOverride(status: OwnerStatus): OwnerStatus {
  const base = {
    status: 'quarantined' as const,
    device: status.device,
    advisories: status.advisories,
    fixedVersions: status.fixedVersions,
    updateHosts: status.updateHosts,
    mode: status.mode,
  };
  return status.since === undefined ? base : { ...base, since: status.since };
}

/** A fake agent starting at `initial`. */
export function createFakeAgent(initial: OwnerStatus = QUARANTINED): FakeAgent {
  let current = initial;
  const calls: AgentCall[] = [];
  return {
    calls,
    status: () => current,
    override: (reason, forSeconds) => {
      calls.push(
        forSeconds === undefined
          ? { kind: 'override', reason }
          : { kind: 'override', reason, forSeconds },
      );
      if (current.status !== 'quarantined')
        return Promise.reject(new Error('fake agent: nothing to override'));
      current = { ...current, status: 'overridden', override: { reason } };
      return Promise.resolve(current);
    },
    resume: () => {
      calls.push({ kind: 'resume' });
      if (current.status !== 'overridden')
        return Promise.reject(new Error('fake agent: nothing to resume'));
      current = withoutOverride(current);
      return Promise.resolve(current);
    },
    set: (status) => {
      current = status;
    },
  };
}

/** A monotonic clock the test moves by hand. */
export interface ManualClock {
  monotonicMs(): number;
  advance(ms: number): void;
}

/** A clock at `startMs` (not 0, so slot arithmetic is not trivially at an edge). */
export function createManualClock(startMs = 1_000_000_000): ManualClock {
  let now = startMs;
  return {
    monotonicMs: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/** One logged event. */
export interface LoggedEvent {
  readonly level: LogLevel;
  readonly event: string;
  readonly message: string;
  readonly fields?: LogFields;
}

/** A log sink keeping every event in `events`. */
export function createMemoryLog(): { readonly log: LogSink; readonly events: LoggedEvent[] } {
  const events: LoggedEvent[] = [];
  const log: LogSink = (level, event, message, fields) => {
    events.push(
      fields === undefined ? { level, event, message } : { level, event, message, fields },
    );
  };
  return { log, events };
}
