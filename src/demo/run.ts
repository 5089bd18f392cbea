/**
 * `tattler demo`: the whole system on one machine, with nothing to configure (docs/demo.md).
 * Makes throwaway keys, a trust root and a signed feed from the real records in vectors/feeds,
 * starts a collector with its dashboard, runs devices of real models (in network namespaces with
 * real enforcement as root, else on loopback with enforcement simulated), updates a few
 * quarantined ones to a fixed build, and removes everything it made when it stops — also after
 * an error or a signal.
 * @module
 */
import { existsSync } from 'node:fs';
import { appendFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { loadCollectorConfig } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/udp.ts';
import { createLogSink } from '../logging/log.ts';
import { demoDevices } from './catalog.ts';
import { createLoopbackFleet } from './loopback-fleet.ts';
import { cleanupDemoLeftovers, createNetnsFleet, netnsUnavailableReason } from './netns-fleet.ts';
import { prepareDemoData, writeDemoCollectorConfig } from './setup.ts';
import { applyEvent, exitCodeOf, newTracks, renderLive, summarize, type DeviceTrack } from './summary.ts';
import type { DemoMode, DemoSummary, DeviceFleet } from './types.ts';

/** Most devices one demo runs (each is an agent; in netns mode a process and a namespace). */
export const MAX_DEMO_DEVICES = 200;
/** Devices the demo "updates" to a fixed build once they are quarantined. */
const RESTORE_COUNT = 2;
/** How long a quarantine stands before the demo installs the fix. */
const RESTORE_AFTER_MS = 2_000;
/** The dashboard's port when none is given; a busy one falls back to any free port. */
export const DEFAULT_DASHBOARD_PORT = 8750;

/** What `tattler demo` was asked. */
export interface DemoRunOptions {
  readonly devices: number;
  /** Stop after this long once the devices run; `null`: until a signal. */
  readonly durationMs: number | null;
  readonly json: boolean;
  /** Absolute; made by us (marker file), removed at the end unless `keepData`. */
  readonly dataDir: string;
  /** The dashboard's HTTP port (0: any free port). */
  readonly httpPort: number;
  /** The collector's UDP port (0: any free port). */
  readonly collectorPort: number;
  readonly mode: 'auto' | DemoMode;
  readonly keepData: boolean;
  /** Where the JSON summary (and, on a terminal, the live view) goes. */
  readonly out: NodeJS.WritableStream;
  /** Progress, URLs and problems. */
  readonly err: NodeJS.WritableStream;
  /** Redraw the live view in place (stdout is a terminal and not --json). */
  readonly live: boolean;
  readonly color: boolean;
  /** Aborted on SIGINT/SIGTERM: the demo stops and cleans up. */
  readonly signal: AbortSignal;
  /** Called once the devices run (the screenshot script opens the dashboard then). */
  readonly onReady?: (ready: DemoReady) => void;
}

/** What a running demo offers to look at. */
export interface DemoReady {
  readonly mode: DemoMode;
  readonly dashboardUrl: string | undefined;
  /** The devices' tracks, updated as events arrive. */
  readonly tracks: ReadonlyMap<string, DeviceTrack>;
}

/** What a run ended with. */
export interface DemoResult {
  readonly summary: DemoSummary;
  readonly exitCode: number;
}

function waitOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Runs the demo; never leaves anything behind that it made, whatever happens. */
export async function runDemo(options: DemoRunOptions): Promise<DemoResult> {
  // Once the live view runs on the terminal, messages go into it instead of between its redraws.
  let viewActive = false;
  const recent: string[] = [];
  const notes: string[] = [];
  const say = (line: string): void => {
    if (viewActive) {
      recent.push(line);
      if (recent.length > 5) recent.shift();
    } else options.err.write(`tattler demo: ${line}\n`);
  };
  if (!Number.isInteger(options.devices) || options.devices < 1 || options.devices > MAX_DEMO_DEVICES)
    throw new RangeError(`--devices must be 1..${String(MAX_DEMO_DEVICES)}`);

  let mode: DemoMode;
  if (options.mode === 'auto') {
    const why = await netnsUnavailableReason();
    mode = why === undefined ? 'netns' : 'loopback';
    if (why !== undefined)
      say(`LOOPBACK MODE — enforcement is SIMULATED: ${why}. Run as root with iproute2 for real network namespaces and real routes.`);
  } else {
    mode = options.mode;
    if (mode === 'netns') {
      const why = await netnsUnavailableReason();
      if (why !== undefined) throw new Error(`--mode netns: ${why}`);
    } else say('LOOPBACK MODE — enforcement is SIMULATED (--mode loopback): the agents decide for real, no route is changed.');
  }
  if (mode === 'netns') say('NETNS MODE — every device runs in its own network namespace; a FAIL really takes its default route away.');

  const fleet: DeviceFleet = mode === 'netns' ? createNetnsFleet() : createLoopbackFleet();
  const devices = demoDevices(options.devices);
  const tracks = newTracks(devices);
  let collector: RunningCollector | undefined;
  let liveLines = 0;
  const mismatches: { device: string; actuallyQuarantined: boolean }[] = [];
  let failure: unknown;
  const startedMs = Date.now();
  try {
    const files = await prepareDemoData(options.dataDir, { nowSeconds: Math.floor(Date.now() / 1000), progress: say });
    say(`created in ${options.dataDir} (removed at the end unless --keep-data):`);
    for (const c of files.created) say(`  ${c.what}: ${relative(options.dataDir, c.path) || '.'}`);
    const network = await fleet.prepare();

    // The collector, with its dashboard; a busy default dashboard port falls back to a free one.
    const collectorLog = join(options.dataDir, 'collector.log');
    const log = createLogSink({
      format: 'json',
      name: 'tattler-collector',
      write: (line) => void appendFile(collectorLog, line).catch(() => undefined),
    });
    const listen = network.listen.map((address) => ({ address, port: options.collectorPort }));
    for (const httpPort of options.httpPort === DEFAULT_DASHBOARD_PORT ? [DEFAULT_DASHBOARD_PORT, 0] : [options.httpPort]) {
      const configPath = await writeDemoCollectorConfig(files, { listen, httpPort });
      try {
        collector = await startCollector(await loadCollectorConfig(configPath), { log });
        break;
      } catch (err) {
        if (httpPort === 0 || !/metrics listener .*EADDRINUSE/.test(String(err))) throw err;
        say(`port ${String(httpPort)} is in use; the dashboard takes a free port instead`);
      }
    }
    if (collector === undefined) throw new Error('the collector did not start');
    const udp = collector.addresses().find((a) => a.address === network.collectorAddress) ?? collector.addresses()[0];
    if (udp === undefined) throw new Error('the collector has no socket');
    const ops = collector.opsAddress();
    const dashboardUrl = ops === undefined ? undefined : `http://127.0.0.1:${String(ops.port)}/dashboard`;
    say(`collector listening on ${network.collectorAddress}:${String(udp.port)} (log: ${collectorLog})`);

    // A signal while the agents start stops the start (the fleet stops taking devices).
    const stopStarting = (): void => void fleet.stop();
    options.signal.addEventListener('abort', stopStarting, { once: true });
    const starting = fleet.start({
      devices,
      collector: { address: network.collectorAddress, port: udp.port },
      rootPath: files.rootPath,
      certificatePath: files.certificatePath,
      dir: join(options.dataDir, 'devices'),
      onEvent: (event) => {
        applyEvent(tracks, event);
      },
      progress: say,
    });
    try {
      await starting;
    } catch (err) {
      if (!options.signal.aborted) throw err;
    } finally {
      options.signal.removeEventListener('abort', stopStarting);
    }
    const runStartMs = Date.now();
    if (dashboardUrl !== undefined) {
      say(`dashboard: ${dashboardUrl}`);
      say(`vendor report: ${dashboardUrl}/vendors`);
    }
    options.onReady?.({ mode, dashboardUrl, tracks });

    // The restores: a few quarantined devices get the build the feed names as fixed.
    const restoring = new Set<string>();
    const updates: Promise<void>[] = [];
    let ownerShown = false;
    let lastStatusSlot = -1;
    for (;;) {
      const now = Date.now();
      const elapsed = now - runStartMs;
      if (!ownerShown) {
        // A quarantined device the demo will not update shows the owner's view best.
        const pick = [...tracks.values()].find((t) => t.quarantinedNow && t.device.fixedFirmware === undefined && fleet.ownerPage(t.device.name) !== undefined) ??
          [...tracks.values()].find((t) => t.quarantinedNow && fleet.ownerPage(t.device.name) !== undefined) ??
          (elapsed > 10_000 ? [...tracks.values()].find((t) => fleet.ownerPage(t.device.name) !== undefined) : undefined);
        const page = pick === undefined ? undefined : fleet.ownerPage(pick.device.name);
        if (pick !== undefined && page !== undefined) {
          const line = `owner status page of ${pick.device.name} (${pick.device.vendor} ${pick.device.model}): ${page.url} — owner secret ${page.secret}`;
          if (options.live) notes.push(line);
          else say(line);
          ownerShown = true;
        }
      }
      for (const t of tracks.values()) {
        if (restoring.size >= RESTORE_COUNT) break;
        const fixed = t.device.fixedFirmware;
        if (fixed === undefined || restoring.has(t.device.name) || t.quarantinedAtMs === undefined) continue;
        if (now - t.quarantinedAtMs < RESTORE_AFTER_MS) continue;
        restoring.add(t.device.name);
        // Set before the update: the lift it causes may arrive before update() resolves.
        t.updatedTo = fixed;
        say(`${t.device.name}: installing firmware ${fixed} (the feed names it as fixed); its quarantine should lift`);
        updates.push(
          fleet.update(t.device.name, fixed).catch((err: unknown) => {
            delete t.updatedTo;
            restoring.delete(t.device.name);
            say(`${t.device.name}: update failed: ${err instanceof Error ? err.message : String(err)}`);
          }),
        );
      }
      if (options.live) {
        viewActive = true;
        const lines = renderLive(
          { mode, elapsedMs: elapsed, durationMs: options.durationMs, ...(dashboardUrl === undefined ? {} : { dashboardUrl }), color: options.color, notes, recent },
          tracks,
        );
        options.out.write(`${liveLines > 0 ? `\u001b[${String(liveLines)}A` : ''}${lines.map((l) => `\u001b[2K${l}`).join('\n')}\n`);
        liveLines = lines.length;
      } else if (Math.floor(elapsed / 5000) !== lastStatusSlot) {
        lastStatusSlot = Math.floor(elapsed / 5000);
        const s = summarize(mode, tracks, 0);
        say(`${String(Math.round(elapsed / 1000))} s: PASS ${String(s.verdicts.pass)} FAIL ${String(s.verdicts.fail)} WARN ${String(s.verdicts.warn)} UNKNOWN ${String(s.verdicts.unknown)}, quarantined ${String(s.quarantined)}, restored ${String(s.restored)}`);
      }
      if (options.signal.aborted) break;
      if (options.durationMs !== null && elapsed >= options.durationMs) break;
      await waitOrAbort(1000 - (Date.now() % 1000), options.signal);
    }
    if (options.signal.aborted) say('stopping (signal)');
    // No update may still be writing a config while everything is removed.
    await Promise.allSettled(updates);

    // Before stopping: does the kernel (or the simulated layer) agree with what the agents said?
    for (const t of tracks.values()) {
      const actual = await fleet.isQuarantined(t.device.name);
      if (actual !== t.quarantinedNow) {
        mismatches.push({ device: t.device.name, actuallyQuarantined: actual });
        say(`${t.device.name}: the agent says ${t.quarantinedNow ? 'quarantined' : 'not quarantined'} but the routes say ${actual ? 'quarantined' : 'not'}`);
      }
    }
  } catch (err) {
    failure = err;
  }

  // Cleanup, whatever happened above.
  viewActive = false;
  say('cleaning up');
  await fleet.stop();
  if (collector !== undefined) {
    try {
      await collector.close();
    } catch (err) {
      say(`collector did not close cleanly: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const left = await fleet.leftovers();
  if (!options.keepData) {
    try {
      if (existsSync(join(options.dataDir, '.tattler-demo'))) await rm(options.dataDir, { recursive: true, force: true });
    } catch (err) {
      left.push(`${options.dataDir}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (existsSync(join(options.dataDir, '.tattler-demo'))) left.push(`${options.dataDir} still exists`);
  } else say(`kept ${options.dataDir} (--keep-data): try  tattler report vendors --config ${join(options.dataDir, 'collector.yaml')}`);
  for (const line of left) say(`LEFT BEHIND: ${line}`);
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error('the demo failed', { cause: failure });

  const summary = summarize(mode, tracks, left.length, mismatches);
  for (const t of tracks.values()) {
    const d = t.device;
    if (t.firstVerdict === undefined) say(`${d.name}: no verdict in ${String(Math.round((Date.now() - startedMs) / 1000))} s`);
    else if (t.firstVerdict !== d.expected) say(`${d.name}: got ${t.firstVerdict.toUpperCase()}, expected ${d.expected.toUpperCase()} (${d.why})`);
    if (t.device.expected === 'fail' && t.quarantinedAtMs === undefined) say(`MISSED: ${d.name} (${d.vendor} ${d.model} ${d.firmware}) was not quarantined`);
    if (t.device.expected !== 'fail' && t.quarantinedAtMs !== undefined) say(`WRONGLY QUARANTINED: ${d.name} (${d.vendor} ${d.model} ${d.firmware})`);
    for (const e of t.errors.slice(0, 3)) say(`${d.name}: ${e}`);
  }
  return { summary, exitCode: exitCodeOf(summary) };
}

/** `tattler demo --cleanup`: removes what a crashed run left (namespaces, processes, its data). */
export async function cleanupDemo(dataDir: string, say: (line: string) => void): Promise<string[]> {
  const removed = await cleanupDemoLeftovers(say);
  if (existsSync(join(dataDir, '.tattler-demo'))) {
    await rm(dataDir, { recursive: true, force: true });
    removed.push(dataDir);
  }
  return removed;
}

export type { DeviceTrack };
