import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeCollectorDir } from '../testing/collector-fixture.ts';
import {
  AGENT_DEFAULTS,
  AgentConfigError,
  coreConfigOf,
  loadAgentConfig,
  loadAgentTrust,
  parseAgentConfig,
  summarizeAgentConfig,
} from './config.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/agent.yaml', import.meta.url));
const FILE = '/etc/tattler/agent.yaml';
const MINIMAL = [
  'device: {vendor: D-Link, model: DIR-859, software: {name: firmware, version: 1.05B03}}',
  'collectors: [{address: 192.0.2.53}]',
  'trust: {root: root.cbor}',
];
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-agent-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The problems of a config made of `lines`, as `path: message`. */
function problems(lines: readonly string[]): string[] {
  try {
    parseAgentConfig(lines.join('\n'), FILE);
  } catch (err) {
    assert.ok(err instanceof AgentConfigError, String(err));
    return err.problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`));
  }
  assert.fail('expected AgentConfigError');
}

function replace(key: string, line: string): string[] {
  return [...MINIMAL.filter((l) => !l.startsWith(`${key}:`)), line];
}

test('loadAgentConfig() loads the example with every key', async () => {
  const settings = await loadAgentConfig(EXAMPLE);
  assert.equal(settings.device.canonicalVendor, 'dlink');
  assert.equal(settings.device.canonicalModel, 'dir859');
  assert.equal(settings.device.hardwareVersion, 'A1');
  assert.equal(settings.mode, 'private');
  assert.deepEqual(
    settings.collectors.map((c) => [c.address, c.family, c.port]),
    [
      ['192.0.2.53', 4, 5683],
      ['2001:db8::53', 6, 5683],
    ],
  );
  assert.equal(settings.trust.rootPath, join(dirname(EXAMPLE), 'root.cbor'));
  assert.deepEqual(settings.remediationHosts, ['update.example.com']);
  assert.equal(settings.stateDir, '/var/lib/tattler');
  assert.deepEqual(settings.startupWindow, { enabled: false, timeoutSeconds: 5 });
  assert.deepEqual(settings.quarantine, { table: 4750, priority: 90 });
  assert.equal(settings.dns, null);
  assert.deepEqual(settings.clock, { trusted: false });
  assert.match(summarizeAgentConfig(settings), /device {7}D-Link DIR-859 \(hardware A1\), firmware 1\.05B03; canonical dlink\/dir859\n/);
});

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

test('parseAgentConfig() fills the documented defaults', () => {
  const settings = parseAgentConfig(MINIMAL.join('\n'), FILE);
  assert.equal(settings.mode, AGENT_DEFAULTS.mode);
  assert.equal(settings.enforcement, true);
  assert.equal(settings.stateDir, '/var/lib/tattler');
  assert.equal(settings.trust.rootPath, '/etc/tattler/root.cbor');
  assert.deepEqual(settings.trust.certificatePaths, []);
  assert.deepEqual(settings.remediationHosts, []);
  assert.equal(settings.dns, null);
  assert.ok(Object.isFrozen(settings.device));
});

test('parseAgentConfig() reports every problem with the key, the problem and the fix', () => {
  const cases: [string[], string[]][] = [
    [['collectors: [{address: 192.0.2.53}]', 'trust: {root: root.cbor}'], ['device: missing — add it, e.g. device: {vendor: D-Link, model: DIR-859, software: {name: firmware, version: 1.05B03}}']],
    [replace('device', 'device: {vendor: "--", model: DIR-859, software: {name: firmware, version: 1.05B03}}'), ['device.vendor: "--" has nothing left once punctuation and spaces are removed (docs/protocol.md §4.1) — write the name with letters or digits, e.g. D-Link']],
    [replace('device', `device: {vendor: D-Link, model: ${'x'.repeat(65)}, software: {name: firmware, version: 1.05B03}}`), ['device.model: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." is longer than 64 bytes once canonical (docs/protocol.md §4.1) — shorten it']],
    [replace('device', 'device: {vendor: D-Link, model: DIR-859, software: {name: firmware, version: 2.10}}'), ['device.software.version: 2.1 is a number, not text — quote it so YAML keeps it as written, e.g. "1.05B03"']],
    [replace('device', 'device: {vendor: D-Link, model: DIR-859, software: {version: 1.0}}'), ['device.software.name: missing — add it, e.g. name: firmware', 'device.software.version: 1 is a number, not text — quote it so YAML keeps it as written, e.g. "1.05B03"']],
    [replace('device', `device: {vendor: D-Link, model: DIR-859, software: {name: firmware, version: "${'9'.repeat(65)}"}}`), ['device.software.version: 65 bytes is too long, at most 64 (UTF-8, docs/protocol.md §5) — shorten it']],
    [replace('device', 'device: {vendor: D-Link, model: DIR-859, hardwareVersion: "A1\\u0007", software: {name: firmware, version: "1"}}'), ['device.hardwareVersion: contains a control character — write plain text (docs/protocol.md §5)']],
    [replace('device', 'device: {vendor: D-Link, model: DIR-859, cpe: "cpe:/o:dlink", software: {name: firmware, version: "1"}}'), ['device.cpe: "cpe:/o:dlink" does not start with cpe:2.3: — write e.g. cpe:2.3:o:dlink:dir-859_firmware:1.05b03:*:*:*:*:*:*:*']],
    [replace('device', 'device: {vendor: D-Link, model: DIR-859, mudUrl: "http://x.example/mud", software: {name: firmware, version: "1"}}'), ['device.mudUrl: "http://x.example/mud" does not start with https:// — write e.g. https://vendor.example/mud/dir859.json']],
    [replace('device', 'device: {vendor: D-Link, modle: DIR-859, software: {name: firmware, version: "1"}}'), ['device.model: missing — add it, e.g. model: DIR-859', 'device.modle: unknown key — did you mean "model"?']],
    [[...MINIMAL, 'mode: anonymous'], ['mode: "anonymous" is not a mode — write private (the default), identified or off']],
    [replace('collectors', 'collectors: [{address: tattler.isp.example}]'), ["collectors[0].address: \"tattler.isp.example\" is not an IP address — devices send to the operator's anycast address, not a host name (announcing needs no DNS): write the address, e.g. 192.0.2.53 or 2001:db8::53"]],
    [replace('collectors', 'collectors: [{address: "192.0.2.53:5683"}]'), ['collectors[0].address: "192.0.2.53:5683" is not an IP address — write the address and the port separately: {address: 192.0.2.53, port: 5683}']],
    [replace('collectors', 'collectors: [{address: 192.0.2.53, port: 0}]'), ['collectors[0].port: 0 is not a whole number in 1..65535 — write e.g. 5683']],
    [replace('collectors', 'collectors: [{address: 192.0.2.53}, {address: 192.0.2.53, port: 5683}]'), ['collectors[1]: [192.0.2.53]:5683 is listed twice — remove the duplicate']],
    [replace('collectors', 'collectors: []'), ['collectors: empty — add at least one address, e.g. [{address: 192.0.2.53}]']],
    [replace('collectors', 'collectors: [{address: 192.0.2.1}, {address: 192.0.2.2}, {address: 192.0.2.3}, {address: 192.0.2.4}, {address: 192.0.2.5}]'), ["collectors: 5 addresses, at most 4 (× 4 attempts fill one answer window's 16 requests) — list one IPv4 and one IPv6 anycast address"]],
    [replace('trust', 'trust: {}'), ['trust.root: missing — add it, e.g. root: root.cbor (the root document shipped with the device)']],
    [[...MINIMAL, 'remediationHosts: [https://update.example.com/fw]'], ['remediationHosts[0]: "https://update.example.com/fw" is a URL — write the host name only: update.example.com']],
    [[...MINIMAL, 'remediationHosts: [a.example, b.example, c.example, d.example, e.example]'], ['remediationHosts: 5 entries, at most 4 — shorten the list']],
    [[...MINIMAL, 'remediationHosts: [under_score.example]'], ["remediationHosts[0]: \"under_score.example\" is not a host name — write letters, digits, '-' and '.', e.g. update.example.com"]],
    [[...MINIMAL, 'enforcement: no'], ['enforcement: "no" is not true or false — write true or false (YAML 1.2: yes/no/on/off are text)']],
    [[...MINIMAL, 'startupWindow: {enabled: true, timeout: 5}'], ['startupWindow.timeout: 5 has no unit — write a duration with units (d, h, m, s), e.g. 5s']],
    [[...MINIMAL, 'startupWindow: {enabled: true, timeout: 10m}'], ['startupWindow.timeout: "10m" is outside 1s..5m — write a duration in 1s..5m']],
    [[...MINIMAL, 'quarantine: {table: 254}'], ['quarantine.table: 254 is a table the kernel reserves (253 default, 254 main, 255 local) — pick an unused one, e.g. 4750']],
    [[...MINIMAL, 'quarantine: {priority: 32766}'], ['quarantine.priority: 32766 is not a whole number in 1..32764 — write e.g. 90 (the catch-all rule takes the next one; both before 32766 "lookup main")']],
    [[...MINIMAL, 'dns: [dns.example]'], ['dns[0]: "dns.example" is not an IP address — write the resolver\'s address, e.g. 192.0.2.1 (a name would need DNS to find DNS)']],
    [[...MINIMAL, 'clock: {trusted: yes}'], ['clock.trusted: "yes" is not true or false — write true or false (YAML 1.2: yes/no/on/off are text)']],
    [[...MINIMAL, 'statedir: /tmp'], ['statedir: unknown key — did you mean "stateDir"?']],
    [[...MINIMAL, 'colour: blue'], ['colour: unknown key — remove it; the keys here are device, mode, collectors, trust, remediationHosts, stateDir, enforcement, startupWindow, quarantine, dns, clock, owner']],
    [['device: {vendor: a', ''], ['line 2, column 1: Flow map in block collection must be sufficiently indented and end with a } — fix the YAML syntax there']],
    [[''], ['the file is empty — start from examples/agent.yaml (docs/agent.md)']],
  ];
  for (const [lines, expected] of cases) assert.deepEqual(problems(lines), expected, lines.join('\n'));
});

test('parseAgentConfig() refuses claims that would not fit one request ([P-5-4])', () => {
  const long = `https://vendor.example/${'a'.repeat(220)}`;
  const lines = replace(
    'device',
    `device: {vendor: ${'v'.repeat(64)}, model: ${'m'.repeat(64)}, hardwareVersion: "${'h'.repeat(64)}", software: {name: "${'n'.repeat(64)}", version: "${'9'.repeat(64)}"}, cpe: "cpe:2.3:${'c'.repeat(240)}", mudUrl: "${long}", sbomUrl: "${long}"}`,
  );
  assert.deepEqual(problems(lines), [
    'device: the announcement would not fit one request (request body: 1131 bytes, at most 953; docs/protocol.md [P-5-4]) — shorten cpe, mudUrl or sbomUrl',
  ]);
});

test('loadAgentConfig() names a missing file', async () => {
  await assert.rejects(loadAgentConfig(join(dir, 'none.yaml')), (err: unknown) => {
    assert.ok(err instanceof AgentConfigError);
    assert.equal(err.message, `${join(dir, 'none.yaml')}: no such file — check the path and permissions`);
    return true;
  });
});

test('loadAgentTrust() reads a self-signed root and certificates, and names the key of a bad file', async () => {
  await writeCollectorDir(dir);
  const good = join(dir, 'good.yaml');
  await writeFile(good, [...replace('trust', 'trust: {root: root.cbor, certificates: [collector.cert.cbor]}')].join('\n'));
  const settings = await loadAgentConfig(good);
  const trust = await loadAgentTrust(settings);
  assert.equal(trust.certificates.length, 1);
  const core = coreConfigOf(settings, trust);
  assert.deepEqual(core.device, { vendor: 'dlink', model: 'dir859', swName: 'firmware', swVersion: '1.05B03' });
  assert.deepEqual(core.collectors.map((c) => [...c.address]), [[192, 0, 2, 53]]);

  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, replace('trust', 'trust: {root: collector.cert.cbor, certificates: [root.cbor, none.cbor]}').join('\n'));
  await assert.rejects(loadAgentTrust(await loadAgentConfig(bad)), (err: unknown) => {
    assert.ok(err instanceof AgentConfigError);
    assert.deepEqual(err.problems.map((p) => p.path), ['trust.root', 'trust.certificates[0]', 'trust.certificates[1]']);
    assert.match(err.problems[2]?.message ?? '', /none\.cbor: no such file/);
    return true;
  });
});
