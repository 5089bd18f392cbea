/**
 * The netns fleet for real: the demo's data and collector, three catalog devices as real agents
 * in their own namespaces, the kernel's rules and routes read back, an update that lifts a
 * quarantine, nothing left after stop, and `--cleanup` of a crashed run. Skipped (with the
 * reason) without root and `ip netns`. Also the pure pieces: log-line mapping and addresses.
 * @module
 */
import { acquireHostLock } from '../testing/host-lock.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadCollectorConfig } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/udp.ts';
import { DEMO_CATALOG } from './catalog.ts';
import { deviceEventOf, ownerSecretOf, parseAgentLogLine } from './netns-agent.ts';
import {
  cleanupDemoLeftovers,
  createNetnsFleet,
  deviceAddress,
  netnsUnavailableReason,
} from './netns-fleet.ts';
import { hasHostLink, listNamespaces, runIp, runIpRaw } from './netns-ip.ts';
import { prepareDemoData, writeDemoCollectorConfig } from './setup.ts';
import { DEMO_NETNS, type DemoDevice, type DeviceEvent, type DeviceEventKind } from './types.ts';

/** An agent's first announcement comes 2–5 s after its default route; retries take up to 14 s. */
const EVENT_TIMEOUT_MS = 60_000;

test('deviceAddress() counts 198.18.1.1–250, then spills into 198.18.2.x', () => {
  assert.equal(deviceAddress(1), '198.18.1.1');
  assert.equal(deviceAddress(250), '198.18.1.250');
  assert.equal(deviceAddress(251), '198.18.2.1');
  assert.throws(() => deviceAddress(0), RangeError);
  assert.throws(() => deviceAddress(255 * 250 + 1), RangeError);
});

test('deviceEventOf() maps the agent log events the demo shows, with the log time', () => {
  const line = (fields: Record<string, unknown>): string =>
    JSON.stringify({
      level: 30,
      time: '2026-01-02T03:04:05.000Z',
      name: 'tattler-agent',
      msg: 'm',
      ...fields,
    });
  const at = Date.parse('2026-01-02T03:04:05.000Z');
  const map = (fields: Record<string, unknown>): DeviceEvent | undefined => {
    const parsed = parseAgentLogLine(line(fields));
    assert.ok(parsed !== undefined);
    return deviceEventOf('d', parsed);
  };
  assert.deepEqual(map({ event: 'started' }), { device: 'd', atMs: at, kind: 'started' });
  assert.deepEqual(map({ event: 'announce', mode: 'private' }), {
    device: 'd',
    atMs: at,
    kind: 'announced',
  });
  assert.deepEqual(map({ event: 'accepted', status: 'fail' }), {
    device: 'd',
    atMs: at,
    kind: 'verdict',
    status: 'fail',
  });
  assert.equal(map({ event: 'accepted', status: 'bogus' }), undefined);
  assert.equal(map({ event: 'quarantined', level: 40 })?.kind, 'quarantined');
  assert.equal(map({ event: 'lifted', reason: 'fixed' })?.kind, 'lifted');
  assert.equal(map({ event: 'route_error', level: 50 })?.kind, 'error');
  assert.equal(
    map({ event: 'refused', level: 40, code: 'BAD_SIGNATURE' })?.detail,
    'refused BAD_SIGNATURE: m',
  );
  assert.equal(map({ event: 'state_error', level: 50 })?.kind, 'error');
  assert.equal(map({ event: 'status', level: 40 }), undefined);
  assert.equal(map({ event: 'stopped' }), undefined, 'the process exit is the stopped event');
  assert.equal(parseAgentLogLine('agent: config ok'), undefined);
  assert.equal(parseAgentLogLine('{"event":"started"}'), undefined, 'no level, no time');
  assert.equal(
    parseAgentLogLine(`{"level":30,"time":"x","event":"started","pad":"${'x'.repeat(70_000)}"}`),
    undefined,
  );
});

test('ownerSecretOf() reads only the line the agent prints the secret on', () => {
  const prefix = 'tattler agent: owner secret for the status page (shown once, write it down): ';
  assert.equal(ownerSecretOf(`${prefix}Q7MZK-2XWPA-LD4NB-R6TUE`), 'Q7MZK-2XWPA-LD4NB-R6TUE');
  assert.equal(ownerSecretOf(`${prefix}not a secret`), undefined);
  assert.equal(ownerSecretOf('{"event":"owner_secret_new"}'), undefined);
});

/** Every event of the run, and a way to await the first that matches. */
class EventRecorder {
  readonly events: DeviceEvent[] = [];
  readonly #waiters = new Set<() => void>();

  readonly record = (event: DeviceEvent): void => {
    this.events.push(event);
    for (const waiter of [...this.#waiters]) waiter();
  };

  of(device: string): DeviceEventKind[] {
    return this.events.filter((e) => e.device === device).map((e) => e.kind);
  }

  async waitFor(what: string, match: (event: DeviceEvent) => boolean): Promise<DeviceEvent> {
    let waiter: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise((resolve, reject) => {
        waiter = () => {
          const hit = this.events.find(match);
          if (hit !== undefined) resolve(hit);
        };
        this.#waiters.add(waiter);
        timer = setTimeout(() => {
          reject(
            new Error(
              `no ${what} in ${String(EVENT_TIMEOUT_MS)} ms; events: ${JSON.stringify(this.events)}`,
            ),
          );
        }, EVENT_TIMEOUT_MS);
        waiter();
      });
    } finally {
      clearTimeout(timer);
      if (waiter !== undefined) this.#waiters.delete(waiter);
    }
  }
}

function pick(what: string, match: (d: DemoDevice) => boolean): DemoDevice {
  const device = DEMO_CATALOG.find(match);
  assert.ok(device !== undefined, `the catalog has ${what}`);
  return device;
}

// Only what no waiting can change (not root, no ip netns); a busy demo network is waited for.
const skip = await netnsUnavailableReason().then((why) => (why !== undefined && /root|ip netns|container/i.test(why) ? why : undefined));

/**
 * Whether another demo (a test file run in parallel) has its network up now: then a test that
 * makes leftovers by hand skips instead of breaking that run.
 */
async function skipIfBusy(t: TestContext): Promise<boolean> {
  // One demo network per host: wait for any other test file using it (host-lock.ts).
  t.after(await acquireHostLock('demo-netns'));
  const why = await netnsUnavailableReason();
  if (why !== undefined) t.skip(why);
  return why !== undefined;
}

test(
  'createNetnsFleet() runs real agents in namespaces: FAIL quarantined in the kernel, update lifts it, nothing left',
  { skip, timeout: 240_000 },
  async (t) => {
    if (await skipIfBusy(t)) return;
    const tmp = await mkdtemp(join(tmpdir(), 'tattler-netns-fleet-'));
    const fleet = createNetnsFleet();
    const running: { collector?: RunningCollector } = {};
    const progress: string[] = [];
    t.after(async () => {
      await fleet.stop();
      await running.collector?.close();
      await rm(tmp, { recursive: true, force: true });
    });

    const failing = pick(
      'an identified FAIL with a fixed build',
      (d) => d.expected === 'fail' && d.mode === 'identified' && d.fixedFirmware !== undefined,
    );
    const passing = pick(
      'an identified PASS',
      (d) => d.expected === 'pass' && d.mode === 'identified',
    );
    const privateFail = pick(
      'a private FAIL',
      (d) => d.expected === 'fail' && d.mode === 'private',
    );
    const devices = [failing, passing, privateFail];

    const files = await prepareDemoData(join(tmp, 'data'), {
      nowSeconds: Math.floor(Date.now() / 1000),
      progress: () => undefined,
    });
    const network = await fleet.prepare();
    assert.deepEqual(network, { listen: ['198.18.0.1'], collectorAddress: '198.18.0.1' });
    const configPath = await writeDemoCollectorConfig(files, {
      listen: [{ address: network.collectorAddress, port: 0 }],
      httpPort: 0,
    });
    const collector = await startCollector(await loadCollectorConfig(configPath), {
      log: () => undefined,
    });
    running.collector = collector;
    const port = collector.addresses()[0]?.port;
    assert.ok(port !== undefined && port > 0);

    const recorder = new EventRecorder();
    await fleet.start({
      devices,
      collector: { address: network.collectorAddress, port },
      rootPath: files.rootPath,
      certificatePath: files.certificatePath,
      dir: join(tmp, 'devices'),
      onEvent: recorder.record,
      progress: (line) => progress.push(line),
    });
    assert.deepEqual(progress, ['started 3/3 agents (each in its own network namespace)']);
    for (const d of devices)
      assert.ok(recorder.of(d.name).includes('started'), `${d.name} started`);

    // Verdicts as the catalog promises, and the FAIL devices quarantined.
    for (const d of devices) {
      const verdict = await recorder.waitFor(
        `verdict of ${d.name}`,
        (e) => e.device === d.name && e.kind === 'verdict',
      );
      assert.equal(verdict.status, d.expected, `${d.name}: ${d.why}`);
    }
    for (const d of [failing, privateFail]) {
      await recorder.waitFor(
        `quarantine of ${d.name}`,
        (e) => e.device === d.name && e.kind === 'quarantined',
      );
      // The agent installs the quarantine before it logs the answer it accepted (the core puts the
      // quarantine effect first: fail-safe), so of one exchange `quarantined` comes before `verdict`.
      const kinds = recorder.of(d.name);
      const at = (kind: DeviceEventKind): number => kinds.indexOf(kind);
      assert.ok(
        at('started') === 0 && at('announced') > at('started'),
        `${d.name}: ${kinds.join(', ')}`,
      );
      assert.ok(
        at('quarantined') > at('announced') && at('verdict') > at('announced'),
        `${d.name}: ${kinds.join(', ')}`,
      );
      assert.equal(await fleet.isQuarantined(d.name), true, `${d.name}: rule in the kernel`);
    }
    assert.equal(await fleet.isQuarantined(passing.name), false);

    // The kernel says it too: the quarantined device cannot route to the internet, the other can.
    const failingNs = `${DEMO_NETNS.namespacePrefix}${failing.name}`;
    const passingNs = `${DEMO_NETNS.namespacePrefix}${passing.name}`;
    const rules = await runIp(['-n', failingNs, '-N', 'rule', 'show']);
    assert.match(rules, /^90:\s+from all lookup 4750/m);
    const blocked = await runIpRaw(['-n', failingNs, 'route', 'get', '192.0.2.1']);
    assert.notEqual(blocked.exitCode, 0);
    assert.match(blocked.stderr, /unreachable/i);
    const open = await runIpRaw(['-n', passingNs, 'route', 'get', '192.0.2.1']);
    assert.equal(open.exitCode, 0, open.stderr);

    // The owner page answers from the host, on the device's own address.
    const page = fleet.ownerPage(passing.name);
    assert.ok(page !== undefined, 'owner secret captured');
    assert.match(page.url, /^http:\/\/198\.18\.1\.2:8080\/$/);
    assert.match(page.secret, /^[A-Z0-9]+(-[A-Z0-9]+)+$/);
    const response = await fetch(page.url);
    assert.equal(response.status, 200);
    await response.arrayBuffer();

    // The fixed build lifts the quarantine.
    const fixed = failing.fixedFirmware;
    assert.ok(fixed !== undefined);
    await fleet.update(failing.name, fixed);
    await recorder.waitFor(
      `lift of ${failing.name}`,
      (e) => e.device === failing.name && e.kind === 'lifted',
    );
    assert.equal(await fleet.isQuarantined(failing.name), false);
    const reopened = await runIpRaw(['-n', failingNs, 'route', 'get', '192.0.2.1']);
    assert.equal(reopened.exitCode, 0, reopened.stderr);
    assert.equal(
      await fleet.isQuarantined(privateFail.name),
      true,
      'the other FAIL stays quarantined',
    );
    assert.equal(
      recorder.events.filter((e) => e.kind === 'error').length,
      0,
      JSON.stringify(recorder.events),
    );

    await fleet.stop();
    await fleet.stop();
    assert.deepEqual(await fleet.leftovers(), []);
    assert.deepEqual(
      (await listNamespaces()).filter((n) => n.startsWith(DEMO_NETNS.namespacePrefix)),
      [],
    );
    for (const d of devices)
      assert.ok(recorder.of(d.name).includes('stopped'), `${d.name} stopped`);
    assert.equal(await netnsUnavailableReason(), undefined, 'a later run could start');
  },
);

test(
  'cleanupDemoLeftovers() removes what a crashed run left: its namespaces, their processes, the host link',
  { skip, timeout: 60_000 },
  async (t) => {
    const ns = `${DEMO_NETNS.namespacePrefix}crashed-1`;
    if (await skipIfBusy(t)) return;
    t.after(async () => {
      // Only what this test made (the veth goes with its namespace).
      await runIpRaw(['netns', 'del', ns]);
    });
    await runIp(['netns', 'add', ns]);
    await runIp([
      'link',
      'add',
      DEMO_NETNS.hostLink,
      'type',
      'veth',
      'peer',
      'name',
      'uplink',
      'netns',
      ns,
    ]);
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '-e',
        "console.log('ready'); setInterval(() => {}, 60_000);",
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = once(child, 'exit');
    await once(child.stdout, 'data');
    assert.match(String(await netnsUnavailableReason()), /run tattler demo --cleanup/);

    const lines: string[] = [];
    const removed = await cleanupDemoLeftovers((line) => lines.push(line));
    assert.deepEqual(removed, [
      `host link ${DEMO_NETNS.hostLink}`,
      `process ${String(child.pid)} in ${ns}`,
      `network namespace ${ns}`,
    ]);
    const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
    assert.equal(signal, 'SIGKILL');
    assert.equal(await hasHostLink(DEMO_NETNS.hostLink), false);
    assert.ok(!(await listNamespaces()).includes(ns));
    assert.deepEqual(
      await cleanupDemoLeftovers((line) => lines.push(line)),
      [],
      'nothing left the second time',
    );
  },
);

test(
  'createNetnsFleet(): prepare() that fails midway undoes what it made and leaves what was there',
  { skip, timeout: 60_000 },
  async (t) => {
    // Someone else's link with the demo's name: prepare must fail at it, remove its own LAN
    // namespace, and not touch that link.
    const peer = 'tdemo-peer0';
    if (await skipIfBusy(t)) return;
    await runIp(['link', 'add', peer, 'type', 'veth', 'peer', 'name', DEMO_NETNS.hostLink]);
    t.after(async () => {
      await runIpRaw(['link', 'del', peer]);
    });
    const fleet = createNetnsFleet();
    await assert.rejects(
      fleet.prepare(),
      /could not build the demo network: ip link add tattler-demo0/,
    );
    assert.deepEqual(
      (await listNamespaces()).filter((n) => n.startsWith(DEMO_NETNS.namespacePrefix)),
      [],
    );
    assert.equal(
      await hasHostLink(DEMO_NETNS.hostLink),
      true,
      'the link that was there is still there',
    );
    await fleet.stop();
    assert.equal(
      await hasHostLink(DEMO_NETNS.hostLink),
      true,
      'stop() removes only what the fleet made',
    );
  },
);

test(
  'createNetnsFleet(): an agent that cannot start fails start(), and stop() still removes everything',
  { skip, timeout: 60_000 },
  async (t) => {
    if (await skipIfBusy(t)) return;
    const tmp = await mkdtemp(join(tmpdir(), 'tattler-netns-fleet-'));
    const fleet = createNetnsFleet({ tattlerBin: join(tmp, 'missing-tattler.js') });
    t.after(async () => {
      await fleet.stop();
      await rm(tmp, { recursive: true, force: true });
    });
    await fleet.prepare();
    const events: DeviceEvent[] = [];
    const device = pick('a PASS', (d) => d.expected === 'pass');
    await assert.rejects(
      fleet.start({
        devices: [device],
        collector: { address: DEMO_NETNS.hostAddress, port: 5683 },
        rootPath: join(tmp, 'root.cbor'),
        certificatePath: join(tmp, 'collector.cert.cbor'),
        dir: join(tmp, 'devices'),
        onEvent: (e) => events.push(e),
        progress: () => undefined,
      }),
      /agent of .*: exited before started/,
    );
    assert.deepEqual(
      events.map((e) => e.kind),
      ['stopped'],
    );
    assert.ok(
      (await fleet.leftovers()).includes(
        `network namespace ${DEMO_NETNS.namespacePrefix}${device.name}`,
      ),
    );
    await fleet.stop();
    assert.deepEqual(await fleet.leftovers(), []);
  },
);
