/**
 * End-to-end proof of quarantine in network namespaces: a real collector on an anycast address
 * in an ISP namespace, a home router (dnsmasq: DHCPv4, RA, DNS; IPv4 NAT, routed IPv6), devices
 * configured by udhcpc and SLAAC, real UDP probes. Skipped without root or the tools.
 * @module
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyQuarantine, createIpExec, liftQuarantine, type IpExec } from './routes.ts';
import {
  checkHomeTools,
  monitorRoutes,
  solicitRouter,
  startDhcpClient,
  startDnsmasq,
  waitForSlaac,
  type DhcpClient,
  type RouteMonitor,
} from '../testing/dhcp.ts';
import { NetnsKit, checkNetns, type Netns } from '../testing/netns.ts';
import { deviceRecord } from '../testing/trust-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import {
  COAP_CODE,
  encodeCbor,
  encodeResponse,
  parseIp,
  readFeedRecord,
  signFeedRecord,
  signVerdict,
} from '../protocol/index.ts';
import {
  ADDRESSES,
  AgentProcess,
  Announcer,
  DnsClient,
  ProcessGroup,
  REMEDIATION_NAME,
  Spoofer,
  buildHomeTopology,
  checkAgentDaemon,
  writeAgentConfig,
  type AgentConfigOptions,
  reachableFrom,
  startCollector,
  startImpostor,
  writeE2eCollectorDir,
  type HomeTopology,
  type NetnsProcess,
} from '../testing/topology.ts';

const A = ADDRESSES;
const SKIP = (await checkNetns()) ?? (await checkHomeTools());
/** Where the measured time to enforcement is written (dist/ is not tracked). */
const ENFORCEMENT_REPORT = fileURLToPath(new URL('../e2e-enforcement.json', import.meta.url));

/** A running home: topology, services, and one DHCP client per device. */
interface Home {
  readonly dir: string;
  readonly kit: NetnsKit;
  readonly group: ProcessGroup;
  readonly topology: HomeTopology;
  readonly dnsmasq: NetnsProcess;
  readonly collector: NetnsProcess;
  readonly collectorConfig: string;
  readonly devices: ReadonlyMap<string, HomeDevice>;
}

/** A device namespace with its DHCP client and SLAAC address. */
interface HomeDevice {
  readonly ns: Netns;
  readonly dhcp: DhcpClient;
  readonly address6: string;
  readonly exec: IpExec;
  readonly routes: RouteMonitor;
}

/** Builds the whole home for one test; everything is removed by `t.after`, also on failure. */
async function setUpHome(t: TestContext, labels: readonly string[]): Promise<Home> {
  const dir = await mkdtemp(join(tmpdir(), 'tattler-e2e-'));
  const kit = new NetnsKit();
  const group = new ProcessGroup();
  t.after(async () => {
    await group.stopAll();
    await kit.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  let dnsmasq: NetnsProcess | undefined;
  const topology = await buildHomeTopology(kit, {
    devices: labels,
    beforeDevices: async (router) => {
      dnsmasq = await startDnsmasq(group, router, {
        dir,
        hostRecords: { [REMEDIATION_NAME]: [A.remediation.v4, A.remediation.v6] },
      });
    },
  });
  assert.ok(dnsmasq !== undefined);
  const collectorDir = join(dir, 'collector');
  await mkdir(collectorDir);
  const collectorConfig = await writeE2eCollectorDir(collectorDir, {
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  const collector = await startCollector(group, topology.isp, collectorConfig);
  const devices = new Map<string, HomeDevice>();
  await Promise.all(
    [...topology.devices].map(async ([label, ns]) => {
      const routes = monitorRoutes(group, ns);
      const dhcp = await startDhcpClient(group, ns, { dir });
      const address6 = await waitForSlaac(ns);
      devices.set(label, { ns, dhcp, address6, exec: createIpExec({ netns: ns.name }), routes });
    }),
  );
  return { dir, kit, group, topology, dnsmasq, collector, collectorConfig, devices };
}

function deviceOf(home: Home, label: string): HomeDevice {
  const device = home.devices.get(label);
  assert.ok(device !== undefined, label);
  return device;
}

/** Every echo target of the topology, by role and family. */
function targetsOf(topology: HomeTopology) {
  const p = topology.echoPorts;
  return {
    peer: [
      [A.peer.v4, p.peer],
      [A.peer.v6, p.peer],
    ],
    collector: [
      [A.collector.v4, p.isp],
      [A.collector.v6, p.isp],
    ],
    remediation: [
      [A.remediation.v4, p.remediation],
      [A.remediation.v6, p.remediation],
    ],
    internet: [
      [A.internet.v4, p.internet],
      [A.internet.v6, p.internet],
    ],
  } as const satisfies Record<string, readonly (readonly [string, number])[]>;
}

function allTargets(topology: HomeTopology): [string, number][] {
  return Object.values(targetsOf(topology))
    .flat()
    .map(([a, p]) => [a, p]);
}

function addressesOf(targets: readonly (readonly [string, number])[]): string[] {
  return targets.map(([address]) => address);
}

/**
 * The raw routing state (`ip -N -d -json rule` and `route show table all`, both families),
 * normalised: `expires` (seconds left of RA-learnt routes, counting down) is dropped.
 */
async function rawRoutingState(exec: IpExec): Promise<unknown> {
  const state: Record<string, unknown> = {};
  for (const family of ['-4', '-6'] as const) {
    for (const what of [
      ['rule', 'show'],
      ['route', 'show', 'table', 'all'],
    ] as const) {
      const text = await exec([family, '-N', '-d', '-json', ...what]);
      state[`${family} ${what[0]}`] = JSON.parse(text, (key, value: unknown) =>
        key === 'expires' ? undefined : value,
      );
    }
  }
  return state;
}

/** Our quarantine rule's priorities present in `ns` (both families). */
async function quarantineRules(exec: IpExec): Promise<string[]> {
  const found: string[] = [];
  for (const family of ['-4', '-6'] as const) {
    const rules: unknown = JSON.parse(await exec([family, '-N', '-json', 'rule', 'show']));
    if (!Array.isArray(rules)) throw new Error('ip rule: not a list');
    for (const rule of rules as { priority?: number }[]) {
      if (rule.priority === 90 || rule.priority === 91)
        found.push(`${family} ${String(rule.priority)}`);
    }
  }
  return found;
}

async function writeEnforcementReport(entry: Record<string, unknown>): Promise<void> {
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(await readFile(ENFORCEMENT_REPORT, 'utf8')) as Record<string, unknown>;
  } catch {
    existing = {};
  }
  await writeFile(ENFORCEMENT_REPORT, `${JSON.stringify({ ...existing, ...entry }, null, 2)}\n`);
}

test(
  'e2e topology: DHCP, SLAAC, NAT and routed IPv6 reach the real collector; the route layer quarantines through a DHCP renewal and an RA and restores exactly',
  { skip: SKIP, timeout: 120_000 },
  async (t) => {
    const startedAtMs = performance.now();
    const home = await setUpHome(t, ['vulnerable']);
    t.diagnostic(`home set up in ${(performance.now() - startedAtMs).toFixed(0)} ms`);
    const device = deviceOf(home, 'vulnerable');
    const targets = targetsOf(home.topology);
    const all = allTargets(home.topology);

    // The device got its address and default route from dnsmasq (DHCP) and its IPv6 from RAs.
    assert.equal(device.dhcp.lease.router, A.homeLan.v4);
    assert.match(device.dhcp.lease.address, /^192\.168\.1\.1\d\d$/);
    assert.deepEqual(await reachableFrom(device.ns, all), addressesOf(all));

    // A real announcement to each anycast address: the IPv4 one leaves through NAT (the
    // collector sees the router's WAN address), the IPv6 one is routed (it sees the SLAAC one).
    const announcer = await Announcer.start(home.kit, device.ns);
    const fail4 = await announcer.announce(A.collector.v4);
    const fail6 = await announcer.announce(A.collector.v6);
    assert.equal(fail4.status, 'fail');
    assert.equal(fail4.source, A.homeWan.v4);
    assert.equal(fail4.destination, A.collector.v4);
    assert.equal(fail6.status, 'fail');
    assert.equal(fail6.source, device.address6);
    assert.deepEqual(fail6.remediationHosts, [REMEDIATION_NAME]);
    const patched = await announcer.announce(A.collector.v6, { swVersion: '2.1' });
    assert.equal(patched.status, 'pass');

    // The remediation host's name resolves through the router's dnsmasq.
    const dns = await DnsClient.start(home.kit, device.ns, A.homeLan.v4);
    assert.deepEqual(await dns.resolve(REMEDIATION_NAME), {
      v4: [A.remediation.v4],
      v6: [A.remediation.v6],
    });

    const before = await rawRoutingState(device.exec);
    const allow = {
      collectors: [A.collector.v4, A.collector.v6],
      resolvers: [A.homeLan.v4],
      remediationHosts: [A.remediation.v4, A.remediation.v6],
    };
    // Announcement sent → answer → rules in place (this shell's share of enforcement time).
    const sent = await announcer.announce(A.collector.v6);
    await applyQuarantine(device.exec, allow);
    const enforcedAtMs = performance.timeOrigin + performance.now();
    const routeLayer = {
      sendToAnswerMs: sent.receivedAtMs - sent.sentAtMs,
      answerToRulesMs: enforcedAtMs - sent.receivedAtMs,
      sendToRulesMs: enforcedAtMs - sent.sentAtMs,
    };
    t.diagnostic(`route layer: ${JSON.stringify(routeLayer)}`);
    await writeEnforcementReport({ routeLayer });

    const allowed = addressesOf([...targets.peer, ...targets.collector, ...targets.remediation]);
    assert.deepEqual(await reachableFrom(device.ns, all), allowed);
    assert.deepEqual(await quarantineRules(device.exec), ['-4 90', '-4 91', '-6 90', '-6 91']);
    assert.equal(
      (await announcer.announce(A.collector.v4)).status,
      'fail',
      'collector still answers',
    );
    assert.deepEqual(await dns.resolve(REMEDIATION_NAME), {
      v4: [A.remediation.v4],
      v6: [A.remediation.v6],
    });

    // A DHCP renewal: udhcpc (SIGUSR1) asks dnsmasq again and its script re-installs the
    // default route in main, after we took it away to be sure it comes back.
    await device.ns.ip(['-4', 'route', 'del', 'default']);
    const renewed = await device.dhcp.renew();
    assert.equal(renewed.router, A.homeLan.v4);
    assert.match(
      await device.ns.ip(['-4', 'route', 'show', 'default']),
      /default via 192\.168\.1\.1/,
    );
    // A router advertisement: the RA default route, removed, is re-added by the next RA.
    const mark = device.routes.mark();
    await device.ns.ip(['-6', 'route', 'del', 'default', 'proto', 'ra']);
    await solicitRouter(device.ns);
    await device.routes.waitFor(/^default via fe80::\S+ dev eth0 proto ra/, { from: mark });
    assert.deepEqual(await reachableFrom(device.ns, all), allowed);

    await liftQuarantine(device.exec);
    assert.deepEqual(await rawRoutingState(device.exec), before);
    assert.deepEqual(await quarantineRules(device.exec), []);
    assert.deepEqual(await reachableFrom(device.ns, all), addressesOf(all));
  },
);

// ---------------------------------------------------------------------------------------------
// The agent daemon (`tattler agent`), for real.

const AGENT_SKIP = SKIP ?? checkAgentDaemon();

/** Starts `tattler agent` for `device` with a fresh config in its own state directory. */
async function startAgent(
  home: Home,
  label: string,
  options: Omit<AgentConfigOptions, 'stateDir' | 'trustDir'> = {},
): Promise<AgentProcess> {
  const device = deviceOf(home, label);
  const stateDir = join(home.dir, `state-${label}`);
  const config = await writeAgentConfig(join(home.dir, `agent-${label}.yaml`), {
    stateDir,
    trustDir: dirname(home.collectorConfig),
    ...options,
  });
  return AgentProcess.start(home.group, device.ns, config);
}

/** Stops the agent with SIGTERM and checks that it exited 0. */
async function stopAgent(agent: AgentProcess): Promise<void> {
  assert.equal(await agent.process.stop(), 0, agent.process.lines().join('\n'));
}

/**
 * Resolves once the quarantine table routes the remediation host (IPv6: the last of the host
 * routes an apply adds). The agent resolves the feed record's host names through DNS after the
 * rules are in and applies again; `ip monitor` shows the route when it comes.
 */
async function remediationRouted(device: HomeDevice): Promise<void> {
  const mark = device.routes.mark();
  const table = await device.ns.ip(['-6', 'route', 'show', 'table', '4750']);
  if (table.includes(`${A.remediation.v6} via`)) return;
  await device.routes.waitFor(/^2001:db8:80::80 via .* table 4750/, { from: mark });
}

/** Resolves once `ip monitor rule` in the device has shown our lookup rule (priority 90). */
function ruleMonitor(home: Home, device: HomeDevice): NetnsProcess {
  return home.group.start(device.ns, {
    name: `ip monitor rule in ${device.ns.name}`,
    file: 'ip',
    args: ['monitor', 'rule'],
  });
}

test(
  'tattler agent: the vulnerable DIR-859 is quarantined (LAN, DNS, collector, remediation host only; DHCP renewal and RA change nothing), the patched one keeps full reach, and the update restores exactly',
  { skip: AGENT_SKIP, timeout: 180_000 },
  async (t) => {
    const home = await setUpHome(t, ['vulnerable', 'patched']);
    const vulnerable = deviceOf(home, 'vulnerable');
    const patchedDevice = deviceOf(home, 'patched');
    const targets = targetsOf(home.topology);
    const all = allTargets(home.topology);
    const allowed = addressesOf([...targets.peer, ...targets.collector, ...targets.remediation]);
    const before = await rawRoutingState(vulnerable.exec);
    const rules = ruleMonitor(home, vulnerable);

    // Each agent announces by itself once it sees its default route (2 s + 0-3 s jitter).
    const patched = await startAgent(home, 'patched', { version: '2.1' });
    let agent = await startAgent(home, 'vulnerable');
    const from = 0;
    const announced = await agent.waitFor('announce', { from });
    const quarantined = await agent.waitFor('quarantined', { from });
    // `ip monitor rule` prints each rule as the kernel adds it: IPv4 90 and 91, then IPv6 90 and
    // 91. The first is the moment the quarantine starts to hold for IPv4, the fourth the end.
    const ruleLines: number[] = [];
    for (let from = 0; ruleLines.length < 4;) {
      const seen = await rules.waitForLine((line) => /^9[01]:\s/.test(line), {
        from,
        what: 'our rules',
      });
      ruleLines.push(seen.atMs);
      from = seen.index + 1;
    }
    const accepted = await agent.waitFor('accepted', { from });
    assert.equal(accepted.fields.status, 'fail');
    const enforcement = {
      // The agent's own clock (ms resolution): announcement logged → quarantine logged, which it
      // does once the route layer has applied and verified the rules.
      announceToQuarantinedLogMs: quarantined.timeMs - announced.timeMs,
      // Announcement logged → first rule (IPv4 lookup 4750) and last rule (IPv6 unreachable)
      // seen by `ip monitor rule` (the test's clock, same host).
      announceToFirstRuleMs: (ruleLines[0] ?? Number.NaN) - announced.timeMs,
      announceToAllRulesMs: (ruleLines[3] ?? Number.NaN) - announced.timeMs,
    };
    t.diagnostic(`agent enforcement: ${JSON.stringify(enforcement)}`);
    await writeEnforcementReport({
      agent: enforcement,
      measuredAt: new Date().toISOString(),
      // The machine's load while measuring: each `ip` run the route layer makes costs more on a busy host.
      loadAverage1m: loadavg()[0],
      cpus: availableParallelism(),
    });

    assert.deepEqual(await quarantineRules(vulnerable.exec), ['-4 90', '-4 91', '-6 90', '-6 91']);
    await remediationRouted(vulnerable);
    assert.deepEqual(await reachableFrom(vulnerable.ns, all), allowed);
    const dns = await DnsClient.start(home.kit, vulnerable.ns, A.homeLan.v4);
    assert.deepEqual(await dns.resolve(REMEDIATION_NAME), {
      v4: [A.remediation.v4],
      v6: [A.remediation.v6],
    });

    // The patched device announced too and got a PASS: full reach, no rule.
    await patched.waitFor('accepted', { where: (line) => line.fields.status === 'pass' });
    assert.deepEqual(await quarantineRules(patchedDevice.exec), []);
    assert.deepEqual(await reachableFrom(patchedDevice.ns, all), addressesOf(all));

    // A DHCP renewal (udhcpc re-installs its default route) and an RA (re-adds the removed RA
    // default route) during quarantine: the internet stays out of reach.
    await vulnerable.ns.ip(['-4', 'route', 'del', 'default']);
    await vulnerable.dhcp.renew();
    const mark = vulnerable.routes.mark();
    await vulnerable.ns.ip(['-6', 'route', 'del', 'default', 'proto', 'ra']);
    await solicitRouter(vulnerable.ns);
    await vulnerable.routes.waitFor(/^default via fe80::\S+ dev eth0 proto ra/, { from: mark });
    assert.deepEqual(await reachableFrom(vulnerable.ns, all), allowed);

    // The firmware update: the agent restarts with 2.1; its signed PASS lifts the quarantine.
    await stopAgent(agent);
    assert.deepEqual(await quarantineRules(vulnerable.exec), ['-4 90', '-4 91', '-6 90', '-6 91']);
    agent = await startAgent(home, 'vulnerable', { version: '2.1' });
    const lifted = await agent.waitFor('lifted');
    assert.equal(lifted.fields.reason, 'fixed');
    assert.deepEqual(await quarantineRules(vulnerable.exec), []);
    assert.deepEqual(await rawRoutingState(vulnerable.exec), before);
    assert.deepEqual(await reachableFrom(vulnerable.ns, all), addressesOf(all));
    await stopAgent(agent);
    await stopAgent(patched);
  },
);

test(
  'tattler agent: a DIR-859 in private mode is quarantined from the bucket page it evaluates itself',
  { skip: AGENT_SKIP, timeout: 120_000 },
  async (t) => {
    const home = await setUpHome(t, ['private']);
    const device = deviceOf(home, 'private');
    const targets = targetsOf(home.topology);
    const agent = await startAgent(home, 'private', { mode: 'private' });
    const from = 0;
    await agent.waitFor('quarantined', { from });
    assert.equal((await agent.waitFor('accepted', { from })).fields.status, 'fail');
    assert.deepEqual(await quarantineRules(device.exec), ['-4 90', '-4 91', '-6 90', '-6 91']);
    assert.deepEqual(
      await reachableFrom(device.ns, allTargets(home.topology)),
      addressesOf([...targets.peer, ...targets.collector, ...targets.remediation]),
    );
    await stopAgent(agent);
  },
);

/** Every `refused` code the agent logged from `from` on. */
function refusedCodes(agent: AgentProcess, from: number): string[] {
  return agent
    .log()
    .filter((line) => line.index >= from && line.event === 'refused')
    .map((line) => String(line.fields.code));
}

/**
 * Restarts the agent (a fresh answer window: one still open would hold back the next
 * announcement), announces, and waits for the first refusal; returns every code seen by then.
 */
async function announceAndRefuse(
  home: Home,
  agent: AgentProcess | undefined,
): Promise<{ agent: AgentProcess; codes: string[] }> {
  if (agent !== undefined) await stopAgent(agent);
  const next = await startAgent(home, 'vulnerable');
  await next.waitFor('refused');
  return { agent: next, codes: refusedCodes(next, 0) };
}

test(
  'tattler agent: an uncertified key, a FAIL for another model, a non-eligible record, a WARN, a replayed FAIL and a forged answer from the LAN quarantine nothing',
  { skip: AGENT_SKIP, timeout: 180_000 },
  async (t) => {
    const home = await setUpHome(t, ['vulnerable']);
    const device = deviceOf(home, 'vulnerable');
    const seen: Record<string, string[]> = {};

    // A real FAIL, captured by a LAN host (for the same model and build) for the replay.
    const captured = await (
      await Announcer.start(home.kit, home.topology.peer)
    ).announce(A.collector.v4);
    assert.equal(captured.status, 'fail');

    // A WARN (the camera's record is not eligible) is accepted and quarantines nothing.
    const camera = await startAgent(home, 'vulnerable', {
      vendor: 'hikvision',
      model: 'ds2cd2032i',
      version: '1.0',
    });
    await camera.waitFor('accepted', { where: (line) => line.fields.status === 'warn' });
    assert.deepEqual(await quarantineRules(device.exec), []);
    await stopAgent(camera);

    // A second collector on the anycast addresses whose key has no certificate from the registry.
    assert.equal(await home.collector.stop(), 0);
    const rogueDir = join(home.dir, 'uncertified');
    await mkdir(rogueDir);
    const rogue = await startCollector(
      home.group,
      home.topology.isp,
      await writeE2eCollectorDir(rogueDir, {
        nowSeconds: Math.floor(Date.now() / 1000),
        key: TRUST_KEYS.attacker,
      }),
    );
    let run = await announceAndRefuse(home, undefined);
    seen.uncertified = run.codes;
    assert.ok(run.codes.includes('NO_CERTIFICATE'), run.codes.join());
    assert.deepEqual(await quarantineRules(device.exec), []);
    assert.equal(await rogue.stop(), 0);

    // The certified key used by an impostor: a FAIL naming another model, then a FAIL whose
    // feed record is not quarantine-eligible.
    for (const [name, overrides, code] of [
      ['other model', { model: 'archerc7' }, 'MODEL_MISMATCH'],
      ['not eligible', { eligible: false }, 'NOT_ELIGIBLE'],
    ] as const) {
      const impostor = await startImpostor(home.kit, home.topology.isp, overrides);
      run = await announceAndRefuse(home, run.agent);
      seen[name] = run.codes;
      assert.ok(run.codes.includes(code), `${name}: ${run.codes.join()}`);
      assert.deepEqual(await quarantineRules(device.exec), []);
      await impostor.stop();
    }

    // No collector answers now. A LAN host spoofing the collector's address sends the captured
    // FAIL (a replay), then a FAIL it signed itself, to the agent's socket while its window is open.
    const spoofer = await Spoofer.start(home.kit, home.topology.peer, [A.collector.v4]);
    await stopAgent(run.agent);
    const agent = await startAgent(home, 'vulnerable');
    const from = 0;
    await agent.waitFor('announce', { from });
    const target = {
      to: device.dhcp.lease.address,
      port: await agent.port(4),
      from: A.collector.v4,
      fromPort: 5683,
    };
    await spoofer.send(Buffer.from(captured.hex, 'hex'), target);
    const replayRefused = await agent.waitFor('refused', { from });
    await spoofer.send(forgedFail(device.dhcp.lease.address), target);
    await agent.waitFor('refused', { from: replayRefused.index + 1 });
    seen['replay and forgery'] = refusedCodes(agent, from);
    assert.equal(seen['replay and forgery'].length, 2);
    assert.deepEqual(await quarantineRules(device.exec), []);
    assert.equal(agent.log().filter((line) => line.event === 'quarantined').length, 0);
    t.diagnostic(`refusal codes: ${JSON.stringify(seen)}`);
    await stopAgent(agent);
  },
);

/**
 * Resolves once `<stateDir>/state.json` records a FAIL in force. The agent persists after it
 * quarantines and logs nothing for it, so the file is read again (every 50 ms, 5 s at most).
 */
async function waitForPersistedFail(stateDir: string): Promise<void> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    try {
      const state: unknown = JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8'));
      if (typeof state === 'object' && state !== null && 'fail' in state) return;
    } catch {
      // Not written yet, or being replaced: read again.
    }
    if (performance.now() > deadline) throw new Error(`${stateDir}/state.json: no FAIL after 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A FAIL a LAN attacker signs with its own key, for a token it had to guess. */
function forgedFail(deviceAddress: string): Uint8Array {
  const record = readFeedRecord(signFeedRecord(TRUST_KEYS.attacker, deviceRecord()));
  const verdict = signVerdict(TRUST_KEYS.attacker, {
    nonce: new Uint8Array(16).fill(0x55),
    status: 'fail',
    destination: ipBytes(A.collector.v4),
    source: ipBytes(deviceAddress),
    lifetimeSeconds: 86_400,
    feedVersion: 42,
    record,
  });
  return encodeResponse(
    { messageId: 1, token: new Uint8Array(8).fill(0x66) },
    { kind: 'verdict', signed: encodeCbor(verdict) },
    COAP_CODE.POST,
  );
}

function ipBytes(text: string): Uint8Array {
  const bytes = parseIp(text);
  assert.ok(bytes !== undefined, text);
  return bytes;
}

test(
  'tattler agent: with the collector stopped nothing changes on any device',
  { skip: AGENT_SKIP, timeout: 180_000 },
  async (t) => {
    const home = await setUpHome(t, ['vulnerable', 'patched']);
    const all = allTargets(home.topology);
    const agents = new Map<string, AgentProcess>();
    for (const [label, version] of [
      ['vulnerable', '1.05B03'],
      ['patched', '2.1'],
    ] as const) {
      const agent = await startAgent(home, label, { version });
      await agent.waitFor('accepted');
      agents.set(label, agent);
    }
    await remediationRouted(deviceOf(home, 'vulnerable'));
    const states = new Map<string, unknown>();
    const reach = new Map<string, string[]>();
    for (const label of agents.keys()) {
      const device = deviceOf(home, label);
      states.set(label, await rawRoutingState(device.exec));
      reach.set(label, await reachableFrom(device.ns, all));
    }
    assert.notDeepEqual(reach.get('vulnerable'), reach.get('patched'));

    // The collector stops; the agents start again (a fresh answer window each), announce into
    // silence, and their windows close unanswered (30 s).
    for (const agent of agents.values()) await stopAgent(agent);
    assert.equal(await home.collector.stop(), 0);
    for (const [label, version] of [
      ['vulnerable', '1.05B03'],
      ['patched', '2.1'],
    ] as const) {
      agents.set(label, await startAgent(home, label, { version }));
    }
    await Promise.all(
      [...agents.values()].map(async (agent) => {
        await agent.waitFor('announce');
        await agent.waitFor('unanswered', { timeoutMs: 45_000 });
      }),
    );
    for (const [label, agent] of agents) {
      const device = deviceOf(home, label);
      assert.deepEqual(await rawRoutingState(device.exec), states.get(label), label);
      assert.deepEqual(await reachableFrom(device.ns, all), reach.get(label), label);
      await stopAgent(agent);
    }
  },
);

test(
  'tattler agent: after SIGKILL and after a reboot the quarantine is re-applied from state before the first announcement, and the update still restores exactly',
  { skip: AGENT_SKIP, timeout: 180_000 },
  async (t) => {
    const home = await setUpHome(t, ['vulnerable']);
    const device = deviceOf(home, 'vulnerable');
    const before = await rawRoutingState(device.exec);
    const targets = targetsOf(home.topology);
    const allowed = addressesOf([...targets.peer, ...targets.collector, ...targets.remediation]);
    let agent = await startAgent(home, 'vulnerable');
    await agent.waitFor('quarantined');

    /** Starts the agent again and checks its quarantine came before any announcement. */
    const restart = async () => {
      agent = await startAgent(home, 'vulnerable');
      const log = agent.log();
      const started = log.find((line) => line.event === 'started');
      assert.ok(started !== undefined);
      const quarantined = await agent.waitFor('quarantined', { from: started.index });
      const announced = agent
        .log()
        .filter((line) => line.event === 'announce' && line.index < quarantined.index);
      assert.deepEqual(
        announced,
        [],
        `no announcement before the quarantine:\n${agent.process.lines().join('\n')}`,
      );
      assert.deepEqual(await quarantineRules(device.exec), ['-4 90', '-4 91', '-6 90', '-6 91']);
      await remediationRouted(device);
      assert.deepEqual(await reachableFrom(device.ns, allTargets(home.topology)), allowed);
    };

    // Killed mid-quarantine, once state.json holds the FAIL: the rules stay (they are state, not
    // process) and the restarted agent re-applies them from state.json.
    await waitForPersistedFail(join(home.dir, 'state-vulnerable'));
    agent.process.signal('SIGKILL');
    await agent.process.exited;
    assert.deepEqual(await quarantineRules(device.exec), ['-4 90', '-4 91', '-6 90', '-6 91']);
    await restart();

    // A reboot: the kernel forgets our rules and table; the agent starts again.
    await stopAgent(agent);
    for (const family of ['-4', '-6'] as const) {
      await device.ns.ip([family, 'rule', 'del', 'priority', '91']);
      await device.ns.ip([family, 'rule', 'del', 'priority', '90']);
      await device.ns.ip([family, 'route', 'flush', 'table', '4750']);
    }
    assert.deepEqual(await quarantineRules(device.exec), []);
    await restart();

    // Later the update arrives and restores the device exactly.
    await stopAgent(agent);
    agent = await startAgent(home, 'vulnerable', { version: '2.1' });
    assert.equal((await agent.waitFor('lifted')).fields.reason, 'fixed');
    assert.deepEqual(await rawRoutingState(device.exec), before);
    await stopAgent(agent);
    t.diagnostic('re-applied after SIGKILL and after a reboot; restored by the update');
  },
);
