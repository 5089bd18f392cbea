import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatIp } from '../protocol/index.ts';
import { createNetworkMonitor, parseDefaultRoutes, parseGlobalAddresses, type NetworkView } from './network-monitor.ts';

// Captured from iproute2 6.1 (`ip -json route show default`, `ip -json addr show`), trimmed.
const DEFAULT_V4 = '[{"dst":"default","gateway":"192.168.1.1","dev":"eth0","protocol":"dhcp","prefsrc":"192.168.1.7","metric":100,"flags":[]}]\n';
const NO_DEFAULT = '[]\n';
const UNREACHABLE_DEFAULT = '[{"type":"unreachable","dst":"default","flags":[]}]\n';
const ADDR = JSON.stringify([
  { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }, { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' }] },
  {
    ifindex: 2,
    ifname: 'eth0',
    addr_info: [
      { family: 'inet', local: '192.168.1.7', prefixlen: 24, broadcast: '192.168.1.255', scope: 'global', dynamic: true },
      { family: 'inet6', local: '2001:db8:1::7', prefixlen: 64, scope: 'global', dynamic: true, mngtmpaddr: true },
      { family: 'inet6', local: '2001:db8:1::99', prefixlen: 64, scope: 'global', tentative: true },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    ],
  },
  { ifindex: 3, ifname: 'wan0', addr_info: [{ family: 'inet', local: '198.51.100.20', prefixlen: 30, scope: 'global' }] },
]);

test('parseDefaultRoutes() counts unicast default routes only', () => {
  assert.equal(parseDefaultRoutes(DEFAULT_V4), true);
  assert.equal(parseDefaultRoutes(NO_DEFAULT), false);
  assert.equal(parseDefaultRoutes(''), false);
  assert.equal(parseDefaultRoutes(UNREACHABLE_DEFAULT), false);
  assert.throws(() => parseDefaultRoutes('[{"dst":'), /ip route show default: not JSON/);
});

test('parseGlobalAddresses() keeps global, non-tentative addresses, their prefixes and a public IPv4 as WAN', () => {
  const parsed = parseGlobalAddresses(ADDR);
  assert.deepEqual(parsed.addresses.map((a) => formatIp(a)), ['192.168.1.7', '2001:db8:1::7', '198.51.100.20']);
  assert.deepEqual(parsed.onLink, ['192.168.1.0/24', '2001:db8:1::/64', '198.51.100.20/30']);
  assert.equal(parsed.wanIpv4 === undefined ? undefined : formatIp(parsed.wanIpv4), '198.51.100.20');
  assert.equal(parseGlobalAddresses(JSON.stringify([{ addr_info: [{ family: 'inet', local: '10.0.0.2', prefixlen: 8, scope: 'global' }] }])).wanIpv4, undefined);
});

test('createNetworkMonitor() reports the first view, then only changes', async () => {
  let routes = DEFAULT_V4;
  const exec = (args: readonly string[]): Promise<string> =>
    Promise.resolve(args.includes('addr') ? ADDR : args.includes('-4') ? routes : NO_DEFAULT);
  const monitor = createNetworkMonitor({ exec, watch: false, pollMs: 3_600_000 });
  const views: NetworkView[] = [];
  await monitor.start((view) => views.push(view));
  assert.equal(views.length, 1);
  assert.equal(views[0]?.hasDefaultRoute, true);
  await monitor.refresh();
  assert.equal(views.length, 1);
  routes = NO_DEFAULT;
  await monitor.refresh();
  assert.equal(views.length, 2);
  assert.equal(views[1]?.hasDefaultRoute, false);
  monitor.stop();
});

test('createNetworkMonitor() reports a failing read and carries on', async () => {
  const errors: string[] = [];
  const monitor = createNetworkMonitor({
    exec: () => Promise.reject(new Error('ip: not found')),
    watch: false,
    onError: (text) => errors.push(text),
  });
  const views: NetworkView[] = [];
  await monitor.start((view) => views.push(view));
  assert.deepEqual(views, []);
  assert.deepEqual(errors, ['reading the network failed: ip: not found']);
  monitor.stop();
});

test('createNetworkMonitor() re-reads when `ip monitor` prints a line', { skip: process.platform !== 'linux' }, async () => {
  // A stand-in for `ip` that prints one monitor line: `program` is run as `program monitor route address`.
  const dir = await mkdtemp(join(tmpdir(), 'tattler-monitor-'));
  const fake = join(dir, 'ip');
  await writeFile(fake, '#!/bin/sh\necho "Deleted default via 192.168.1.1 dev eth0"\nexec sleep 60\n');
  await chmod(fake, 0o755);
  let reads = 0;
  const exec = (args: readonly string[]): Promise<string> => {
    if (args.includes('-4')) reads += 1;
    return Promise.resolve(args.includes('addr') ? ADDR : reads > 1 || args.includes('-6') ? NO_DEFAULT : DEFAULT_V4);
  };
  const monitor = createNetworkMonitor({ exec, program: fake, debounceMs: 10, pollMs: 3_600_000 });
  const second = new Promise<NetworkView>((resolve) => {
    let n = 0;
    void monitor.start((view) => {
      n += 1;
      if (n === 2) resolve(view);
    });
  });
  assert.equal((await second).hasDefaultRoute, false);
  monitor.stop();
  await rm(dir, { recursive: true, force: true });
});
