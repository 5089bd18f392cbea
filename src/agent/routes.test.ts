/**
 * Tests of the quarantine route layer: the parser and planner on captured `ip -N -d -json`
 * output, and apply/lift for real inside network namespaces (skipped without root).
 * @module
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { test, type TestContext } from 'node:test';
import {
  RoutesError,
  applyQuarantine,
  createIpExec,
  liftQuarantine,
  parseRoutes,
  parseRules,
  planLift,
  planQuarantine,
  readSnapshot,
  resolveAllowList,
  showRoutesCommand,
  showRulesCommand,
  type AddressResolver,
  type AllowList,
  type IpExec,
  type RoutingSnapshot,
} from './routes.ts';
import { NetnsKit, checkNetns, type Netns } from '../testing/netns.ts';

// Captured from a device namespace (iproute2 6.1, Linux 6.18): `ip -N -d -json -4 route show
// table all`. A DHCP default route, the LAN, and another owner's route in table 100.
const ROUTES_4 = `[{"type":"1","dst":"10.9.0.0/16","gateway":"192.0.2.1","dev":"eth0","table":"100","protocol":"3","scope":"0","flags":[]},{"type":"1","dst":"default","gateway":"192.0.2.1","dev":"eth0","table":"254","protocol":"16","scope":"0","flags":[]},{"type":"1","dst":"192.0.2.0/24","dev":"eth0","table":"254","protocol":"2","scope":"253","prefsrc":"192.0.2.10","flags":[]},{"type":"2","dst":"127.0.0.0/8","dev":"lo","table":"255","protocol":"2","scope":"254","prefsrc":"127.0.0.1","flags":[]},{"type":"2","dst":"127.0.0.1","dev":"lo","table":"255","protocol":"2","scope":"254","prefsrc":"127.0.0.1","flags":[]},{"type":"3","dst":"127.255.255.255","dev":"lo","table":"255","protocol":"2","scope":"253","prefsrc":"127.0.0.1","flags":[]},{"type":"2","dst":"192.0.2.10","dev":"eth0","table":"255","protocol":"2","scope":"254","prefsrc":"192.0.2.10","flags":[]},{"type":"3","dst":"192.0.2.255","dev":"eth0","table":"255","protocol":"2","scope":"253","prefsrc":"192.0.2.10","flags":[]}]`;
// `ip -N -d -json -6 route show table all`: an RA default route through a link-local router.
const ROUTES_6 = `[{"type":"1","dst":"2001:db8:9::/48","gateway":"fe80::1","dev":"eth0","table":"100","protocol":"3","scope":"0","metric":1024,"flags":[],"pref":"medium"},{"type":"1","dst":"2001:db8:1::/64","dev":"eth0","table":"254","protocol":"2","scope":"0","metric":256,"flags":[],"pref":"medium"},{"type":"1","dst":"fe80::/64","dev":"eth0","table":"254","protocol":"2","scope":"0","metric":256,"flags":[],"pref":"medium"},{"type":"1","dst":"default","gateway":"fe80::1","dev":"eth0","table":"254","protocol":"9","scope":"0","metric":1024,"flags":[],"pref":"medium"},{"type":"2","dst":"::1","dev":"lo","table":"255","protocol":"2","scope":"0","metric":0,"flags":[],"pref":"medium"},{"type":"2","dst":"2001:db8:1::10","dev":"eth0","table":"255","protocol":"2","scope":"0","metric":0,"flags":[],"pref":"medium"},{"type":"5","dst":"ff00::/8","dev":"eth0","table":"255","protocol":"2","scope":"0","metric":256,"flags":[],"pref":"medium"}]`;
// `ip -N -d -json -4 rule show` and `-6`: the kernel's rules and another owner's at 200.
const RULES_4 = `[{"priority":0,"src":"all","table":"255","protocol":"2"},{"priority":200,"src":"10.0.0.0","srclen":8,"table":"100","protocol":"0"},{"priority":32766,"src":"all","table":"254","protocol":"2"},{"priority":32767,"src":"all","table":"253","protocol":"2"}]`;
const RULES_6 = `[{"priority":0,"src":"all","table":"255","protocol":"2"},{"priority":200,"src":"2001:db8:99::","srclen":48,"table":"100","protocol":"0"},{"priority":32766,"src":"all","table":"254","protocol":"2"}]`;

// What quarantine adds, as `ip` prints it back (captured after applyQuarantine): the on-link copies, the host routes, the rules.
const OURS_ROUTES_4 = `{"type":"1","dst":"192.0.2.0/24","dev":"eth0","table":"4750","protocol":"167","scope":"253","prefsrc":"192.0.2.10","flags":[]},{"type":"1","dst":"198.51.100.7","gateway":"192.0.2.1","dev":"eth0","table":"4750","protocol":"167","scope":"0","flags":[]}`;
const OURS_ROUTES_6 = `{"type":"1","dst":"2001:db8:1::/64","dev":"eth0","table":"4750","protocol":"167","scope":"0","metric":256,"flags":[],"pref":"medium"},{"type":"1","dst":"2001:db8:2::7","gateway":"fe80::1","dev":"eth0","table":"4750","protocol":"167","scope":"0","metric":1024,"flags":[],"pref":"medium"},{"type":"1","dst":"fe80::/64","dev":"eth0","table":"4750","protocol":"167","scope":"0","metric":256,"flags":[],"pref":"medium"}`;
const OURS_RULES_4 = `{"priority":90,"src":"all","table":"4750","protocol":"167"},{"priority":91,"src":"all","action":"7","protocol":"167"}`;
const OURS_RULES_6 = OURS_RULES_4;

function withOurs(list: string, ours: string): string {
  return `[${ours},${list.slice(1)}`;
}

function snapshotOf(texts: {
  routes4: string;
  routes6: string;
  rules4: string;
  rules6: string;
}): RoutingSnapshot {
  return {
    routes: [...parseRoutes(texts.routes4, 4), ...parseRoutes(texts.routes6, 6)],
    rules: [...parseRules(texts.rules4, 4), ...parseRules(texts.rules6, 6)],
  };
}

const BEFORE = snapshotOf({
  routes4: ROUTES_4,
  routes6: ROUTES_6,
  rules4: RULES_4,
  rules6: RULES_6,
});
const APPLIED = snapshotOf({
  routes4: withOurs(ROUTES_4, OURS_ROUTES_4),
  routes6: withOurs(ROUTES_6, OURS_ROUTES_6),
  rules4: withOurs(RULES_4, OURS_RULES_4),
  rules6: withOurs(RULES_6, OURS_RULES_6),
});
const ALLOW: AllowList = {
  collectors: ['198.51.100.7', '2001:DB8:2:0::7'],
  resolvers: ['192.0.2.1'],
  remediationHosts: [],
};

function isRoutesError(code: RoutesError['code']) {
  return (error: unknown) => error instanceof RoutesError && error.code === code;
}

test('parseRoutes() gives host routes a prefix length and keeps kernel numbers', () => {
  const routes = parseRoutes(withOurs(ROUTES_6, OURS_ROUTES_6), 6);
  const host = routes.find((route) => route.dst.startsWith('2001:db8:2::7'));
  assert.deepEqual(host, {
    family: 6,
    type: 1,
    dst: '2001:db8:2::7/128',
    gateway: 'fe80::1',
    dev: 'eth0',
    table: 4750,
    protocol: 167,
    scope: 0,
    metric: 1024,
    nexthops: [],
  });
  assert.equal(parseRoutes(ROUTES_4, 4).find((r) => r.table === 255)?.dst, '127.0.0.0/8');
  assert.deepEqual(parseRoutes('', 4), []);
});

test('parseRules() reads lookups, actions and source prefixes', () => {
  const rules = parseRules(withOurs(RULES_4, OURS_RULES_4), 4);
  assert.deepEqual(rules.slice(0, 2), [
    { family: 4, priority: 90, src: 'all', table: 4750, protocol: 167 },
    { family: 4, priority: 91, src: 'all', action: 7, protocol: 167 },
  ]);
  assert.equal(rules.find((rule) => rule.priority === 200)?.src, '10.0.0.0/8');
});

test('parseRoutes() and parseRules() reject malformed ip -json output with MALFORMED_OUTPUT', () => {
  const bad: [string, (text: string) => unknown][] = [
    ['[{"type":"1"', (text) => parseRoutes(text, 4)],
    ['{"type":"1"}', (text) => parseRoutes(text, 4)],
    // Names instead of numbers: `ip` was run without -N.
    [
      '[{"type":"unicast","dst":"default","table":"main","protocol":"boot","scope":"global"}]',
      (text) => parseRoutes(text, 4),
    ],
    ['[{"type":"1","dst":"default","table":"254","scope":"0"}]', (text) => parseRoutes(text, 4)],
    [
      '[{"type":"1","dst":"2001:db8::/64","table":"254","protocol":"2","scope":"0"}]',
      (text) => parseRoutes(text, 4),
    ],
    [
      '[{"type":"1","dst":"192.0.2.0/33","table":"254","protocol":"2","scope":"0"}]',
      (text) => parseRoutes(text, 4),
    ],
    [
      '[{"type":"1","dst":"default","gateway":"gw","table":"254","protocol":"2","scope":"0"}]',
      (text) => parseRoutes(text, 4),
    ],
    ['[{"priority":"0","src":"all","table":"255","protocol":"2"}]', (text) => parseRules(text, 4)],
    ['[{"priority":5,"src":"all","protocol":"2"}]', (text) => parseRules(text, 4)],
    [
      '[{"priority":5,"src":"10.0.0.0","srclen":99,"table":"1","protocol":"2"}]',
      (text) => parseRules(text, 4),
    ],
    ['', (text) => parseRules(text, 6)],
  ];
  for (const [text, parse] of bad) {
    assert.throws(() => parse(text), isRoutesError('MALFORMED_OUTPUT'), text);
  }
});

test('planQuarantine() copies on-link routes, routes allowed hosts via the gateway, adds two rules', () => {
  const plan = planQuarantine(BEFORE, ALLOW);
  assert.deepEqual(plan.commands, [
    [
      '-4',
      'route',
      'add',
      '192.0.2.0/24',
      'dev',
      'eth0',
      'scope',
      '253',
      'src',
      '192.0.2.10',
      'metric',
      '0',
      'table',
      '4750',
      'proto',
      '167',
    ],
    [
      '-4',
      'route',
      'add',
      '198.51.100.7/32',
      'via',
      '192.0.2.1',
      'dev',
      'eth0',
      'scope',
      '0',
      'metric',
      '0',
      'table',
      '4750',
      'proto',
      '167',
    ],
    ['-4', 'rule', 'add', 'priority', '90', 'lookup', '4750', 'protocol', '167'],
    ['-4', 'rule', 'add', 'priority', '91', 'unreachable', 'protocol', '167'],
    [
      '-6',
      'route',
      'append',
      '2001:db8:1::/64',
      'dev',
      'eth0',
      'metric',
      '256',
      'table',
      '4750',
      'proto',
      '167',
    ],
    [
      '-6',
      'route',
      'append',
      'fe80::/64',
      'dev',
      'eth0',
      'metric',
      '256',
      'table',
      '4750',
      'proto',
      '167',
    ],
    [
      '-6',
      'route',
      'append',
      '2001:db8:2::7/128',
      'via',
      'fe80::1',
      'dev',
      'eth0',
      'metric',
      '1024',
      'table',
      '4750',
      'proto',
      '167',
    ],
    ['-6', 'rule', 'add', 'priority', '90', 'lookup', '4750', 'protocol', '167'],
    ['-6', 'rule', 'add', 'priority', '91', 'unreachable', 'protocol', '167'],
  ]);
  assert.deepEqual(plan.families, [
    {
      family: 4,
      gateway: { dev: 'eth0', address: '192.0.2.1', addressFamily: 4 },
      onLinkRoutes: 1,
      routedHosts: ['198.51.100.7'],
      onLinkHosts: ['192.0.2.1'],
      unroutableHosts: [],
    },
    {
      family: 6,
      gateway: { dev: 'eth0', address: 'fe80::1', addressFamily: 6 },
      onLinkRoutes: 2,
      routedHosts: ['2001:db8:2::7'],
      onLinkHosts: [],
      unroutableHosts: [],
    },
  ]);
});

test('planQuarantine() on the quarantined state plans nothing', () => {
  assert.deepEqual(planQuarantine(APPLIED, ALLOW).commands, []);
});

test('planQuarantine() with a changed allow-list swaps only our host routes', () => {
  const allow = { ...ALLOW, collectors: ['198.51.100.8', '2001:db8:2::7'] };
  assert.deepEqual(planQuarantine(APPLIED, allow).commands, [
    [
      '-4',
      'route',
      'del',
      '198.51.100.7/32',
      'via',
      '192.0.2.1',
      'dev',
      'eth0',
      'table',
      '4750',
      'proto',
      '167',
    ],
    [
      '-4',
      'route',
      'add',
      '198.51.100.8/32',
      'via',
      '192.0.2.1',
      'dev',
      'eth0',
      'scope',
      '0',
      'metric',
      '0',
      'table',
      '4750',
      'proto',
      '167',
    ],
  ]);
});

test('planQuarantine() without a default route keeps the links and reports unroutable hosts', () => {
  const current: RoutingSnapshot = {
    routes: BEFORE.routes.filter((route) => route.dst !== 'default'),
    rules: BEFORE.rules,
  };
  const plan = planQuarantine(current, ALLOW, { families: [4] });
  assert.deepEqual(plan.families[0], {
    family: 4,
    gateway: undefined,
    onLinkRoutes: 1,
    routedHosts: [],
    onLinkHosts: ['192.0.2.1'],
    unroutableHosts: ['198.51.100.7'],
  });
  assert.equal(plan.commands.filter((command) => command.includes('via')).length, 0);
  assert.equal(plan.commands.filter((command) => command[1] === 'rule').length, 2);
});

test('planQuarantine() does not copy catch-all link routes of a tunnel', () => {
  const tunnel = `[{"type":"1","dst":"0.0.0.0/1","dev":"tun0","table":"254","protocol":"3","scope":"253","flags":[]},${ROUTES_4.slice(1)}`;
  const current = { routes: parseRoutes(tunnel, 4), rules: BEFORE.rules };
  const plan = planQuarantine(current, ALLOW, { families: [4] });
  assert.equal(plan.families[0]?.onLinkRoutes, 1);
  assert.equal(plan.commands.filter((command) => command.includes('tun0')).length, 0);
});

test('planQuarantine() refuses junk addresses, too many hosts and a table in use', () => {
  const none: AllowList = { collectors: [], resolvers: [], remediationHosts: [] };
  for (const address of ['collector.example', 'fe80::1%eth0', '192.0.2.300', '']) {
    assert.throws(
      () => planQuarantine(BEFORE, { ...none, remediationHosts: [address] }),
      isRoutesError('BAD_ADDRESS'),
    );
  }
  const many = Array.from({ length: 65 }, (_, index) => `203.0.113.${index + 1}`);
  assert.throws(
    () => planQuarantine(BEFORE, { ...none, remediationHosts: many }),
    isRoutesError('TOO_MANY_HOSTS'),
  );
  assert.equal(
    planQuarantine(BEFORE, { ...none, remediationHosts: many.slice(0, 64) }).families[0]
      ?.routedHosts.length,
    64,
  );
  assert.throws(() => planQuarantine(BEFORE, none, { table: 100 }), isRoutesError('TABLE_IN_USE'));
  assert.throws(() => planQuarantine(BEFORE, none, { table: 254 }), RangeError);
  assert.throws(() => planQuarantine(BEFORE, none, { unreachablePriority: 90 }), RangeError);
});

test('planLift() removes only our rules and routes, rules first', () => {
  assert.deepEqual(planLift(APPLIED), [
    ['-4', 'rule', 'del', 'priority', '91', 'unreachable', 'protocol', '167'],
    ['-4', 'rule', 'del', 'priority', '90', 'lookup', '4750', 'protocol', '167'],
    ['-6', 'rule', 'del', 'priority', '91', 'unreachable', 'protocol', '167'],
    ['-6', 'rule', 'del', 'priority', '90', 'lookup', '4750', 'protocol', '167'],
    [
      '-4',
      'route',
      'del',
      '198.51.100.7/32',
      'via',
      '192.0.2.1',
      'dev',
      'eth0',
      'table',
      '4750',
      'proto',
      '167',
    ],
    ['-4', 'route', 'del', '192.0.2.0/24', 'dev', 'eth0', 'table', '4750', 'proto', '167'],
    [
      '-6',
      'route',
      'del',
      '2001:db8:2::7/128',
      'via',
      'fe80::1',
      'dev',
      'eth0',
      'table',
      '4750',
      'proto',
      '167',
    ],
    ['-6', 'route', 'del', '2001:db8:1::/64', 'dev', 'eth0', 'table', '4750', 'proto', '167'],
    ['-6', 'route', 'del', 'fe80::/64', 'dev', 'eth0', 'table', '4750', 'proto', '167'],
  ]);
  assert.deepEqual(planLift(BEFORE), []);
});

/** An {@link IpExec} that answers the show commands from the fixtures and records the rest. */
function fixtureExec(ran: string[][]): IpExec {
  const outputs = new Map([
    [showRoutesCommand(4).join(' '), ROUTES_4],
    [showRoutesCommand(6).join(' '), ROUTES_6],
    [showRulesCommand(4).join(' '), RULES_4],
    [showRulesCommand(6).join(' '), RULES_6],
  ]);
  return function fakeIp(args) {
    const output = outputs.get(args.join(' '));
    if (output === undefined) ran.push([...args]);
    return Promise.resolve(output ?? '');
  };
}

test('applyQuarantine() runs the plan and fails with VERIFY_FAILED when the state did not change', async () => {
  const ran: string[][] = [];
  await assert.rejects(applyQuarantine(fixtureExec(ran), ALLOW), isRoutesError('VERIFY_FAILED'));
  assert.deepEqual(ran, planQuarantine(BEFORE, ALLOW).commands);
});

test('createIpExec() turns a failing ip into COMMAND_FAILED', async () => {
  const exec = createIpExec({ program: 'false' });
  await assert.rejects(exec(['rule', 'show']), isRoutesError('COMMAND_FAILED'));
});

const RESOLVER: AddressResolver = {
  resolve4: (name) =>
    name === 'updates.example'
      ? Promise.resolve([1, 2, 3, 4, 5].map((n) => ({ address: `203.0.113.${n}`, ttl: 300 })))
      : Promise.reject(new Error('ENOTFOUND')),
  resolve6: (name) =>
    name === 'updates.example'
      ? Promise.resolve([{ address: '2001:db8:3::1', ttl: 120 }])
      : Promise.reject(new Error('ENODATA')),
};

test('resolveAllowList() resolves names of both families, capped, with the shortest TTL', async () => {
  const resolved = await resolveAllowList(
    { collectors: ['198.51.100.7'], resolvers: [], remediationHosts: ['updates.example'] },
    { resolver: RESOLVER },
  );
  assert.deepEqual(resolved, {
    allow: {
      collectors: ['198.51.100.7'],
      resolvers: [],
      remediationHosts: [
        '203.0.113.1',
        '203.0.113.2',
        '203.0.113.3',
        '203.0.113.4',
        '2001:db8:3::1',
      ],
    },
    refreshAfterMs: 120_000,
    unresolved: [],
  });
});

test('resolveAllowList() reports names that do not resolve and retries soon', async () => {
  const resolved = await resolveAllowList(
    { collectors: [], resolvers: [], remediationHosts: ['gone.example', 'updates.example'] },
    { resolver: RESOLVER, minRefreshMs: 30_000 },
  );
  assert.deepEqual(resolved.unresolved, ['gone.example']);
  assert.equal(resolved.refreshAfterMs, 30_000);
  assert.equal(resolved.allow.remediationHosts.length, 5);
});

test('resolveAllowList() takes node:dns/promises Resolver and passes IP literals through', async () => {
  const literals = {
    collectors: ['2001:db8:2::7'],
    resolvers: ['192.0.2.1'],
    remediationHosts: [],
  };
  const resolved = await resolveAllowList(literals, { resolver: new Resolver() });
  assert.deepEqual(resolved.allow, literals);
  assert.equal(resolved.refreshAfterMs, 3_600_000);
});

// ---------------------------------------------------------------------------------------------
// For real, in namespaces.

const NETNS_SKIP = await checkNetns();

/** Every host of the test network, its addresses and its echo port. */
interface Topology {
  readonly device: Netns;
  readonly exec: IpExec;
  readonly ports: ReadonlyMap<string, number>;
}

const HOSTS = {
  peer: ['192.0.2.20', '2001:db8:1::20'],
  collector: ['198.51.100.7', '2001:db8:2::7'],
  remediation: ['198.51.100.8', '2001:db8:2::8'],
  internet: ['198.51.100.9', '2001:db8:2::9'],
} as const;

const TOPOLOGY_ALLOW: AllowList = {
  collectors: [...HOSTS.collector],
  resolvers: ['192.0.2.1', '2001:db8:1::1'],
  remediationHosts: [...HOSTS.remediation],
};

/**
 * device ─ br0 [router] br1 ─ collector, remediation, internet; the LAN peer on br0 too.
 * The device has a DHCP-like default route, an RA-like one via fe80::1, and another owner's
 * rules (priority 200) and routes (table 100).
 */
async function buildTopology(
  t: TestContext,
  options: { defaultRoutes: boolean },
): Promise<Topology> {
  const kit = new NetnsKit();
  t.after(() => kit.cleanup());
  const device = await kit.addNamespace('device');
  const router = await kit.addNamespace('router');
  await router.enableForwarding();
  for (const bridge of ['br0', 'br1']) {
    await router.ip(['link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0']);
    await router.ip(['link', 'set', bridge, 'up']);
  }
  for (const address of ['192.0.2.1/24', '2001:db8:1::1/64', 'fe80::1/64']) {
    await router.addAddress('br0', address);
  }
  for (const address of ['198.51.100.1/24', '2001:db8:2::1/64'])
    await router.addAddress('br1', address);

  await kit.link(
    { ns: device, dev: 'eth0', addresses: ['192.0.2.10/24', '2001:db8:1::10/64'] },
    { ns: router, dev: 'lan0' },
  );
  await router.ip(['link', 'set', 'lan0', 'master', 'br0']);
  // The four hosts are independent of each other: built in parallel.
  const hosts = Object.entries(HOSTS).map(async ([label, [v4, v6]], index) => {
    const ns = await kit.addNamespace(label);
    const lan = label === 'peer';
    const routerDev = `${lan ? 'lan' : 'wan'}${index + 1}`;
    await kit.link(
      { ns, dev: 'eth0', addresses: [`${v4}/24`, `${v6}/64`] },
      { ns: router, dev: routerDev },
    );
    await router.ip(['link', 'set', routerDev, 'master', lan ? 'br0' : 'br1']);
    if (!lan) {
      await ns.ip(['-4', 'route', 'add', 'default', 'via', '198.51.100.1']);
      await ns.ip(['-6', 'route', 'add', 'default', 'via', '2001:db8:2::1']);
    }
    const echo = await ns.startUdpEcho();
    return [
      [v4, echo.port],
      [v6, echo.port],
    ] as const;
  });
  // allSettled: no host may still be building when a failure starts the cleanup.
  const settled = await Promise.allSettled(hosts);
  const ports = new Map<string, number>();
  for (const result of settled) {
    if (result.status === 'rejected') throw result.reason;
    for (const [address, port] of result.value) ports.set(address, port);
  }
  await kit.waitUntilUp();
  if (options.defaultRoutes) {
    await device.ip([
      '-4',
      'route',
      'add',
      'default',
      'via',
      '192.0.2.1',
      'dev',
      'eth0',
      'proto',
      'dhcp',
    ]);
    await device.ip([
      '-6',
      'route',
      'add',
      'default',
      'via',
      'fe80::1',
      'dev',
      'eth0',
      'proto',
      'ra',
    ]);
  }
  await device.ip(['-4', 'rule', 'add', 'priority', '200', 'from', '10.0.0.0/8', 'lookup', '100']);
  await device.ip(['-4', 'route', 'add', '10.9.0.0/16', 'via', '192.0.2.1', 'table', '100']);
  await device.ip([
    '-6',
    'rule',
    'add',
    'priority',
    '200',
    'from',
    '2001:db8:99::/48',
    'lookup',
    '100',
  ]);
  await device.ip([
    '-6',
    'route',
    'add',
    '2001:db8:9::/48',
    'via',
    'fe80::1',
    'dev',
    'eth0',
    'table',
    '100',
  ]);
  return { device, exec: createIpExec({ netns: device.name }), ports };
}

/** Which of `addresses` the device gets an echo from (each probe a real UDP exchange). */
async function reachable(topology: Topology, addresses: readonly string[]): Promise<string[]> {
  const reached: string[] = [];
  for (const address of addresses) {
    const port = topology.ports.get(address);
    assert.ok(port !== undefined, address);
    const result = await topology.device.probeUdp(address, port);
    if (result.reached) reached.push(address);
  }
  return reached;
}

/** The raw routing state as `ip` prints it, for exact before/after comparison. */
async function rawState(exec: IpExec): Promise<unknown[]> {
  const outputs: unknown[] = [];
  for (const family of [4, 6] as const) {
    for (const command of [showRulesCommand(family), showRoutesCommand(family)]) {
      outputs.push(JSON.parse(await exec(command)));
    }
  }
  return outputs;
}

const ALL_HOSTS = Object.values(HOSTS).flat();

test(
  'applyQuarantine() keeps LAN, collector and remediation hosts, survives DHCP and RA; lift restores exactly',
  { skip: NETNS_SKIP },
  async (t) => {
    const topology = await buildTopology(t, { defaultRoutes: true });
    const { device, exec } = topology;
    assert.deepEqual(await reachable(topology, ALL_HOSTS), ALL_HOSTS);
    const before = await rawState(exec);

    const applied = await applyQuarantine(exec, TOPOLOGY_ALLOW);
    assert.equal(applied.changed, true);
    const allowed = [...HOSTS.peer, ...HOSTS.collector, ...HOSTS.remediation];
    assert.deepEqual(await reachable(topology, ALL_HOSTS), allowed);
    const refused = await device.probeUdp(
      HOSTS.internet[0],
      topology.ports.get(HOSTS.internet[0]) ?? 0,
    );
    assert.equal(refused.detail, 'ENETUNREACH');

    // A DHCP client renewing its lease, and an RA re-adding the default route after it expired.
    await device.ip([
      '-4',
      'route',
      'replace',
      'default',
      'via',
      '192.0.2.1',
      'dev',
      'eth0',
      'proto',
      'dhcp',
    ]);
    await device.ip(['-4', 'route', 'del', 'default']);
    await device.ip([
      '-4',
      'route',
      'add',
      'default',
      'via',
      '192.0.2.1',
      'dev',
      'eth0',
      'proto',
      'dhcp',
    ]);
    await device.ip(['-6', 'route', 'del', 'default', 'via', 'fe80::1', 'dev', 'eth0']);
    await device.ip([
      '-6',
      'route',
      'add',
      'default',
      'via',
      'fe80::1',
      'dev',
      'eth0',
      'proto',
      'ra',
    ]);
    assert.deepEqual(await reachable(topology, ALL_HOSTS), allowed);

    const lifted = await liftQuarantine(exec);
    assert.equal(lifted.changed, true);
    assert.deepEqual(await rawState(exec), before);
    assert.deepEqual(await reachable(topology, ALL_HOSTS), ALL_HOSTS);
  },
);

test(
  'applyQuarantine() twice is a no-op; a new allow-list swaps host routes; others are untouched',
  { skip: NETNS_SKIP },
  async (t) => {
    const topology = await buildTopology(t, { defaultRoutes: true });
    const { exec } = topology;
    const before = await readSnapshot(exec);
    const foreign = (snapshot: RoutingSnapshot) => ({
      rules: snapshot.rules.filter((rule) => rule.priority === 200),
      routes: snapshot.routes.filter((route) => route.table === 100),
    });
    assert.equal(foreign(before).rules.length, 2);
    assert.equal(foreign(before).routes.length, 2);

    await applyQuarantine(exec, TOPOLOGY_ALLOW);
    const once = await rawState(exec);
    const again = await applyQuarantine(exec, TOPOLOGY_ALLOW);
    assert.deepEqual(again.commands, []);
    assert.equal(again.changed, false);
    assert.deepEqual(await rawState(exec), once);
    assert.deepEqual(foreign(await readSnapshot(exec)), foreign(before));

    // The feed record now names the "internet" host instead of the remediation host.
    const swapped = await applyQuarantine(exec, {
      ...TOPOLOGY_ALLOW,
      remediationHosts: [...HOSTS.internet],
    });
    assert.deepEqual(
      swapped.commands.map((command) => command.slice(1, 3).join(' ')),
      // IPv4's host route is added; IPv6's is appended (see routeCommand).
      ['route del', 'route add', 'route del', 'route append'],
    );
    assert.deepEqual(await reachable(topology, ALL_HOSTS), [
      ...HOSTS.peer,
      ...HOSTS.collector,
      ...HOSTS.internet,
    ]);
    assert.deepEqual(foreign(await readSnapshot(exec)), foreign(before));

    await liftQuarantine(exec);
    assert.deepEqual(await readSnapshot(exec), before);
    assert.equal((await liftQuarantine(exec)).changed, false);
  },
);

test(
  'applyQuarantine() without a default route keeps the LAN and says the rest is unroutable',
  { skip: NETNS_SKIP },
  async (t) => {
    const topology = await buildTopology(t, { defaultRoutes: false });
    const { exec } = topology;
    const before = await rawState(exec);
    const applied = await applyQuarantine(exec, TOPOLOGY_ALLOW);
    assert.deepEqual(
      applied.families.map((family) => [family.gateway, family.unroutableHosts]),
      [
        [undefined, [HOSTS.collector[0], HOSTS.remediation[0]]],
        [undefined, [HOSTS.collector[1], HOSTS.remediation[1]]],
      ],
    );
    // A DHCP client arriving late: its default route lands in main and is never looked up.
    await topology.device.ip([
      '-4',
      'route',
      'add',
      'default',
      'via',
      '192.0.2.1',
      'proto',
      'dhcp',
    ]);
    assert.deepEqual(await reachable(topology, ALL_HOSTS), [...HOSTS.peer]);
    await topology.device.ip(['-4', 'route', 'del', 'default']);
    await liftQuarantine(exec);
    assert.deepEqual(await rawState(exec), before);
  },
);
