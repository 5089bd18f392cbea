import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp } from '../protocol/index.ts';
import { checkNetns } from '../testing/netns.ts';
import {
  STARTUP_TABLE,
  createNftExec,
  createNftStartupWindow,
  isNftAvailable,
  networkOf,
  onLinkUpdate,
  startupRuleset,
} from './startup-window.ts';

function ip(text: string): Uint8Array {
  const bytes = parseIp(text);
  if (bytes === undefined) throw new RangeError(text);
  return bytes;
}

test('networkOf() clears the host bits', () => {
  assert.equal(networkOf(ip('192.168.1.7'), 24), '192.168.1.0/24');
  assert.equal(networkOf(ip('10.1.2.3'), 12), '10.0.0.0/12');
  assert.equal(networkOf(ip('2001:db8:1::7'), 64), '2001:db8:1::/64');
  assert.equal(networkOf(ip('203.0.113.9'), 32), '203.0.113.9/32');
});

test('startupRuleset() allows DHCP, DNS, NTP, the LAN and each collector, and drops the rest', () => {
  const text = startupRuleset({
    collectors: [{ address: '192.0.2.53', port: 5683 }, { address: '2001:db8::53', port: 5683 }],
    onLink: ['192.168.1.0/24', '2001:db8:1::/64'],
  });
  assert.match(text, /^table inet tattler_startup\ndelete table inet tattler_startup\n/);
  assert.match(text, /type filter hook output priority 0; policy drop;/);
  assert.match(text, /udp dport \{ 67, 68, 546, 547 \} accept/);
  assert.match(text, /meta l4proto \{ tcp, udp \} th dport 53 accept/);
  assert.match(text, /udp dport 123 accept/);
  assert.match(text, /set onlink4 \{ type ipv4_addr; flags interval; elements = \{ 192\.168\.1\.0\/24 \} \}/);
  assert.match(text, /ip daddr 192\.0\.2\.53 udp dport 5683 accept/);
  assert.match(text, /ip6 daddr 2001:db8::53 udp dport 5683 accept/);
  assert.equal(onLinkUpdate([]), `flush set inet ${STARTUP_TABLE} onlink4\nflush set inet ${STARTUP_TABLE} onlink6\n`);
});

const SKIP = (await checkNetns()) ?? ((await isNftAvailable()) ? undefined : 'nft is not installed (apt-get install nftables)');

test('createNftStartupWindow() holds general traffic, lets the collector out, and removes only its own table', { skip: SKIP }, async () => {
  const { runTool } = await import('../testing/external-tool.ts');
  const ns = `ttl-${process.pid}-window`;
  const run = async (file: string, args: readonly string[]): Promise<string> => {
    const result = await runTool('ip', ['netns', 'exec', ns, file, ...args], { timeoutMs: 10_000 });
    if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  await runTool('ip', ['netns', 'add', ns], { timeoutMs: 10_000 });
  try {
    await run('ip', ['link', 'set', 'lo', 'up']);
    await run('ip', ['link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan1']);
    await run('ip', ['link', 'set', 'lan0', 'up']);
    await run('ip', ['link', 'set', 'lan1', 'up']);
    await run('ip', ['address', 'add', '192.168.1.7/24', 'dev', 'lan0']);
    await run('ip', ['route', 'add', 'default', 'via', '192.168.1.1']);
    // Someone else's table, which must survive.
    await run('nft', ['add', 'table', 'inet', 'other']);
    const window = createNftStartupWindow(createNftExec({ netns: ns }));
    await window.open({ collectors: [{ address: '198.51.100.53', port: 5683 }], onLink: ['192.168.1.0/24'] });
    await window.open({ collectors: [{ address: '198.51.100.53', port: 5683 }], onLink: ['192.168.1.0/24'] });
    const probe = (address: string, port: number): Promise<string> =>
      run('node', ['-e', `const s=require('dgram').createSocket('udp4');s.send(Buffer.alloc(1),${port},'${address}',(e)=>{console.log(e?e.code:'SENT');s.close()})`]);
    assert.equal((await probe('203.0.113.9', 443)).trim(), 'EPERM');
    assert.equal((await probe('198.51.100.53', 5683)).trim(), 'SENT');
    assert.equal((await probe('198.51.100.53', 5684)).trim(), 'EPERM');
    assert.equal((await probe('203.0.113.9', 53)).trim(), 'SENT');
    assert.equal((await probe('192.168.1.20', 8080)).trim(), 'SENT');
    await window.updateOnLink([]);
    assert.equal((await probe('192.168.1.20', 8080)).trim(), 'EPERM');
    await window.close();
    await window.close();
    assert.equal((await probe('203.0.113.9', 443)).trim(), 'SENT');
    const ruleset = await run('nft', ['list', 'tables']);
    assert.match(ruleset, /table inet other/);
    assert.doesNotMatch(ruleset, /tattler_startup/);
  } finally {
    await runTool('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
  }
});
