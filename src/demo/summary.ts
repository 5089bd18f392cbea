/**
 * What a demo run amounts to, from the devices' events alone (pure): the JSON summary of
 * `tattler demo --json`, its exit status, and the live terminal view.
 * @module
 */
import type { DemoDevice, DemoMode, DemoStatus, DemoSummary, DeviceEvent } from './types.ts';

/** One device as the events tell it. */
export interface DeviceTrack {
  readonly device: DemoDevice;
  startedAtMs?: number;
  firstAnnouncedAtMs?: number;
  firstVerdict?: DemoStatus;
  lastVerdict?: DemoStatus;
  quarantinedAtMs?: number;
  /** Quarantined now, by the events. */
  quarantinedNow: boolean;
  /** The demo installed its fixed firmware. */
  updatedTo?: string;
  /** A quarantine lifted after that update. */
  restored: boolean;
  errors: string[];
}

/** Folds `event` into the tracks (by device name). */
export function applyEvent(tracks: ReadonlyMap<string, DeviceTrack>, event: DeviceEvent): void {
  const t = tracks.get(event.device);
  if (t === undefined) return;
  switch (event.kind) {
    case 'started':
      t.startedAtMs ??= event.atMs;
      break;
    case 'announced':
      t.firstAnnouncedAtMs ??= event.atMs;
      break;
    case 'verdict':
      if (event.status !== undefined) {
        t.firstVerdict ??= event.status;
        t.lastVerdict = event.status;
      }
      break;
    case 'quarantined':
      t.quarantinedAtMs ??= event.atMs;
      t.quarantinedNow = true;
      break;
    case 'lifted':
      t.quarantinedNow = false;
      if (t.updatedTo !== undefined) t.restored = true;
      break;
    case 'error':
      if (event.detail !== undefined && t.errors.length < 20) t.errors.push(event.detail);
      break;
    case 'stopped':
      break;
  }
}

/** A map of fresh tracks for `devices`. */
export function newTracks(devices: readonly DemoDevice[]): Map<string, DeviceTrack> {
  return new Map(devices.map((device) => [device.name, { device, quarantinedNow: false, restored: false, errors: [] }]));
}

/** The nearest-rank percentile `p` (0..100) of `values`, or null when there are none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

/**
 * The summary of a run. `mismatches` are devices whose kernel (or simulated) state at the end
 * disagreed with their events: each counts as wrongly quarantined (it is in quarantine but
 * should not be) or missed (it should be and is not).
 */
export function summarize(
  mode: DemoMode,
  tracks: ReadonlyMap<string, DeviceTrack>,
  leftovers: number,
  mismatches: readonly { readonly device: string; readonly actuallyQuarantined: boolean }[] = [],
): DemoSummary {
  const verdicts: Record<DemoStatus, number> = { pass: 0, fail: 0, warn: 0, unknown: 0 };
  let quarantined = 0;
  let wrongly = 0;
  let missed = 0;
  let restored = 0;
  const times: number[] = [];
  for (const t of tracks.values()) {
    if (t.firstVerdict !== undefined) verdicts[t.firstVerdict] += 1;
    const expectFail = t.device.expected === 'fail';
    if (t.quarantinedAtMs !== undefined) {
      quarantined += 1;
      if (!expectFail) wrongly += 1;
      if (t.firstAnnouncedAtMs !== undefined) times.push(Math.max(0, t.quarantinedAtMs - t.firstAnnouncedAtMs));
    } else if (expectFail) missed += 1;
    if (t.restored && !t.quarantinedNow) restored += 1;
  }
  for (const m of mismatches) {
    if (m.actuallyQuarantined) wrongly += 1;
    else missed += 1;
  }
  return {
    mode,
    devices: tracks.size,
    verdicts,
    quarantined,
    wronglyQuarantined: wrongly,
    missed,
    restored,
    timeToQuarantineMs: { p50: percentile(times, 50), p99: percentile(times, 99) },
    leftovers,
  };
}

/** 0 when every device that had to be quarantined was, no other was, and nothing was left. */
export function exitCodeOf(summary: DemoSummary): number {
  return summary.wronglyQuarantined === 0 && summary.missed === 0 && summary.leftovers === 0 ? 0 : 1;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text.slice(0, width) : text + ' '.repeat(width - text.length);
}

/** `m:ss`. */
function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60))}:${String(s % 60).padStart(2, '0')}`;
}

/** What the live terminal view shows besides the tracks. */
export interface LiveHeader {
  readonly mode: DemoMode;
  readonly elapsedMs: number;
  readonly durationMs: number | null;
  readonly dashboardUrl?: string;
  readonly color: boolean;
  /** Lines that stay: the owner page and its secret. */
  readonly notes?: readonly string[];
  /** The last few progress messages (on a terminal they go here instead of stderr). */
  readonly recent?: readonly string[];
}

const COLOURS: Readonly<Record<string, string>> = { fail: '31', warn: '33', pass: '32', unknown: '36', quarantined: '1;31' };

/** The live view: a header, the totals, one line per device (at most `maxDevices`). */
export function renderLive(header: LiveHeader, tracks: ReadonlyMap<string, DeviceTrack>, maxDevices = 40): string[] {
  const paint = (text: string, key: string): string =>
    header.color && COLOURS[key] !== undefined ? `\u001b[${COLOURS[key]}m${text}\u001b[0m` : text;
  const s = summarize(header.mode, tracks, 0);
  const announced = [...tracks.values()].filter((t) => t.firstAnnouncedAtMs !== undefined).length;
  const expected = [...tracks.values()].filter((t) => t.device.expected === 'fail').length;
  const ms = (v: number | null): string => (v === null ? '–' : `${String(Math.round(v))} ms`);
  const lines = [
    `tattler demo · ${header.mode === 'netns' ? 'network namespaces, real enforcement' : 'loopback, enforcement simulated'} · ${clock(header.elapsedMs)}${header.durationMs === null ? ' (Ctrl-C stops)' : ` of ${clock(header.durationMs)}`}`,
    `announced ${String(announced)}/${String(s.devices)}   ${paint(`PASS ${String(s.verdicts.pass)}`, 'pass')}  ${paint(`FAIL ${String(s.verdicts.fail)}`, 'fail')}  ${paint(`WARN ${String(s.verdicts.warn)}`, 'warn')}  ${paint(`UNKNOWN ${String(s.verdicts.unknown)}`, 'unknown')}`,
    `quarantined ${String(s.quarantined)} of ${String(expected)} expected · wrongly ${String(s.wronglyQuarantined)} · missed so far ${String(s.missed)} · restored by update ${String(s.restored)} · time to quarantine p50 ${ms(s.timeToQuarantineMs.p50)}, p99 ${ms(s.timeToQuarantineMs.p99)}`,
    '',
  ];
  let shown = 0;
  for (const t of tracks.values()) {
    if (shown++ >= maxDevices) {
      lines.push(`… and ${String(tracks.size - maxDevices)} more`);
      break;
    }
    const d = t.device;
    const state = t.quarantinedNow
      ? paint('QUARANTINED', 'quarantined')
      : t.restored
        ? paint('restored (updated)', 'pass')
        : t.lastVerdict === undefined
          ? t.firstAnnouncedAtMs === undefined
            ? 'starting'
            : 'announced'
          : paint(t.lastVerdict.toUpperCase(), t.lastVerdict);
    lines.push(
      `  ${pad(d.name, 24)} ${pad(`${d.vendor} ${d.model}`, 28)} ${pad(t.updatedTo ?? d.firmware, 18)} ${pad(d.mode, 10)} ${state}`,
    );
  }
  if (header.dashboardUrl !== undefined) lines.push('', `dashboard: ${header.dashboardUrl}   vendor report: ${header.dashboardUrl}/vendors`);
  for (const note of header.notes ?? []) lines.push(note);
  if ((header.recent ?? []).length > 0) lines.push('', ...(header.recent ?? []).map((line) => `· ${line}`));
  return lines;
}
