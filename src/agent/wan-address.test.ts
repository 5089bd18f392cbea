import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { formatIp } from '../protocol/index.ts';
import { checkTool, runTool } from '../testing/external-tool.ts';
import { checkNetns, NetnsKit } from '../testing/netns.ts';
import type { NetworkMonitor, NetworkView } from './network-monitor.ts';
import {
  assertGatewayUrl,
  classifyWanIpv4,
  createWanAddressCache,
  decodeDeviceDescription,
  decodeGetExternalIpAddressResponse,
  decodeNatPmpAddressResponse,
  decodePcpMapResponse,
  decodeSsdpResponse,
  discoverWanAddress,
  encodeGetExternalIpAddress,
  encodeNatPmpAddressRequest,
  encodePcpMapRequest,
  encodeSsdpSearch,
  parseIpv4Gateway,
  WanAnswerError,
  withWanAddress,
  type WanAddress,
  type WanAnswerErrorCode,
  type WanLookup,
} from './wan-address.ts';

const hex = (text: string): Uint8Array =>
  new Uint8Array(Buffer.from(text.replaceAll(' ', ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function throwsCode(fn: () => unknown, code: WanAnswerErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof WanAnswerError && err.code === code);
}

// ---- NAT-PMP (RFC 6886 §3.2) ----------------------------------------------------------------

test('encodeNatPmpAddressRequest() is version 0, opcode 0 (RFC 6886 §3.2)', () => {
  assert.equal(toHex(encodeNatPmpAddressRequest()), '0000');
});

test('decodeNatPmpAddressResponse() reads epoch and external address', () => {
  // version 0, opcode 128, result 0, epoch 3600 s, 81.0.0.2
  const answer = decodeNatPmpAddressResponse(hex('00 80 0000 00000e10 51000002'));
  assert.equal(formatIp(answer.address), '81.0.0.2');
  assert.equal(answer.epochSeconds, 3600);
  assert.equal(answer.kind, 'public');
});

test('decodeNatPmpAddressResponse() refuses hostile answers with exact codes', () => {
  const cases: [string, string, WanAnswerErrorCode][] = [
    ['wrong version (a PCP server)', '02 80 0000 00000e10 51000002', 'BAD_VERSION'],
    ['wrong opcode', '00 81 0000 00000e10 51000002', 'BAD_OPCODE'],
    ['request echoed', '00 00 0000 00000e10 51000002', 'BAD_OPCODE'],
    ['result 3 network failure (8-byte error answer)', '00 80 0003 00000e10', 'RESULT_CODE'],
    ['result 1 unsupported version', '00 80 0001 00000e10 00000000', 'RESULT_CODE'],
    ['truncated', '00 80 0000 00000e10 510000', 'TRUNCATED'],
    ['too short for a header', '00 80 0000', 'TRUNCATED'],
    ['oversize', '00 80 0000 00000e10 51000002 00', 'TOO_LARGE'],
    ['private address (RFC 1918)', '00 80 0000 00000e10 c0a80101', 'NOT_WAN_ADDRESS'],
    ['unspecified address', '00 80 0000 00000e10 00000000', 'NOT_WAN_ADDRESS'],
    ['loopback', '00 80 0000 00000e10 7f000001', 'NOT_WAN_ADDRESS'],
  ];
  for (const [name, bytes, code] of cases)
    assert.throws(
      () => decodeNatPmpAddressResponse(hex(bytes)),
      (err: unknown) => err instanceof WanAnswerError && err.code === code,
      name,
    );
});

test('decodeNatPmpAddressResponse() keeps a CGN address and marks it', () => {
  assert.equal(decodeNatPmpAddressResponse(hex('00 80 0000 00000001 64400a02')).kind, 'cgn');
});

// ---- PCP MAP (RFC 6887 §7, §11) -------------------------------------------------------------

const NONCE = hex('0102030405060708090a0b0c');

function pcpMapResponse(
  fields: {
    version?: number;
    opcode?: number;
    result?: number;
    nonce?: Uint8Array;
    mapped?: string;
  } = {},
): Uint8Array {
  return hex(
    [
      (fields.version ?? 2).toString(16).padStart(2, '0'),
      (fields.opcode ?? 0x81).toString(16).padStart(2, '0'),
      '00',
      (fields.result ?? 0).toString(16).padStart(2, '0'),
      '00000078', // lifetime 120 s
      '0000002a', // epoch 42 s
      '000000000000000000000000', // reserved (96 bits)
      toHex(fields.nonce ?? NONCE),
      '11 000000', // UDP, reserved
      '9c40 c351', // internal 40000, external 50001
      fields.mapped ?? '00000000000000000000ffff 51000002',
    ].join(''),
  );
}

test('encodePcpMapRequest() lays out the header and MAP payload (RFC 6887 §7.1, §11.1)', () => {
  const bytes = encodePcpMapRequest({
    clientAddress: hex('c0a8070a'),
    nonce: NONCE,
    internalPort: 40000,
    lifetimeSeconds: 120,
  });
  assert.equal(
    toHex(bytes),
    '02010000' +
      '00000078' +
      '00000000000000000000ffffc0a8070a' +
      toHex(NONCE) +
      '11000000' +
      '9c400000' +
      '00000000000000000000ffff00000000',
  );
  assert.throws(
    () =>
      encodePcpMapRequest({
        clientAddress: hex('c0a8070a'),
        nonce: NONCE,
        internalPort: 0,
        lifetimeSeconds: 1,
      }),
    RangeError,
  );
});

test('decodePcpMapResponse() reads the assigned external address', () => {
  const answer = decodePcpMapResponse(pcpMapResponse(), { nonce: NONCE });
  assert.equal(formatIp(answer.address), '81.0.0.2');
  assert.deepEqual(
    [answer.lifetimeSeconds, answer.epochSeconds, answer.externalPort],
    [120, 42, 50001],
  );
  // §7.3: options after the payload are skipped.
  const withOption = new Uint8Array([...pcpMapResponse(), 0x80, 0, 0, 0]);
  assert.equal(formatIp(decodePcpMapResponse(withOption, { nonce: NONCE }).address), '81.0.0.2');
});

test('decodePcpMapResponse() refuses hostile answers with exact codes', () => {
  const other = hex('ffffffffffffffffffffffff');
  const cases: [string, Uint8Array, WanAnswerErrorCode][] = [
    ['NAT-PMP-only server (version 0, §9)', hex('00 81 0001 00000000 00000000'), 'BAD_VERSION'],
    ['version 1', pcpMapResponse({ version: 1 }), 'BAD_VERSION'],
    ['R bit clear', pcpMapResponse({ opcode: 0x01 }), 'BAD_OPCODE'],
    ['ANNOUNCE, not MAP', pcpMapResponse({ opcode: 0x80 }), 'BAD_OPCODE'],
    ['NO_RESOURCES', pcpMapResponse({ result: 8 }), 'RESULT_CODE'],
    ['not our nonce', pcpMapResponse({ nonce: other }), 'BAD_NONCE'],
    [
      'IPv6 external address',
      pcpMapResponse({ mapped: '20010db8000000000000000000000001' }),
      'NOT_IPV4',
    ],
    [
      'private external address',
      pcpMapResponse({ mapped: '00000000000000000000ffff 0a000001' }),
      'NOT_WAN_ADDRESS',
    ],
    [
      'all-zeros external address',
      pcpMapResponse({ mapped: '00000000000000000000ffff 00000000' }),
      'NOT_WAN_ADDRESS',
    ],
    ['header only', pcpMapResponse().subarray(0, 24), 'TRUNCATED'],
    ['not a multiple of 4', pcpMapResponse().subarray(0, 58), 'TRUNCATED'],
    ['one byte', hex('02'), 'TRUNCATED'],
    ['over 1100 bytes', new Uint8Array(1104).fill(2), 'TOO_LARGE'],
  ];
  for (const [name, bytes, code] of cases)
    assert.throws(
      () => decodePcpMapResponse(bytes, { nonce: NONCE }),
      (err: unknown) => err instanceof WanAnswerError && err.code === code,
      name,
    );
});

// ---- UPnP IGD -------------------------------------------------------------------------------

const SSDP_OK = [
  'HTTP/1.1 200 OK',
  'CACHE-CONTROL: max-age=120',
  'ST: urn:schemas-upnp-org:service:WANIPConnection:1',
  'USN: uuid:x::urn:schemas-upnp-org:service:WANIPConnection:1',
  'EXT:',
  'LOCATION: http://192.168.7.1:35849/rootDesc.xml',
  '',
  '',
].join('\r\n');
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

test('encodeSsdpSearch() is an M-SEARCH for the service type', () => {
  const text = new TextDecoder().decode(
    encodeSsdpSearch('urn:schemas-upnp-org:service:WANIPConnection:2'),
  );
  assert.match(
    text,
    /^M-SEARCH \* HTTP\/1\.1\r\nHOST: 239\.255\.255\.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: urn:schemas-upnp-org:service:WANIPConnection:2\r\n\r\n$/,
  );
});

test('decodeSsdpResponse() reads LOCATION and refuses hostile answers', () => {
  assert.deepEqual(decodeSsdpResponse(ascii(SSDP_OK)), {
    location: 'http://192.168.7.1:35849/rootDesc.xml',
    serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1',
  });
  throwsCode(() => decodeSsdpResponse(new Uint8Array(4096).fill(0x41)), 'TOO_LARGE');
  throwsCode(
    () => decodeSsdpResponse(ascii(SSDP_OK.replace('200 OK', '404 Not Found'))),
    'BAD_HTTP',
  );
  throwsCode(
    () =>
      decodeSsdpResponse(
        ascii(SSDP_OK.replace('WANIPConnection:1\r\nUSN', 'WANPPPConnection:1\r\nUSN')),
      ),
    'BAD_HTTP',
  );
  throwsCode(
    () => decodeSsdpResponse(ascii(SSDP_OK.replace(/LOCATION: [^\r]*\r\n/, ''))),
    'BAD_HTTP',
  );
  throwsCode(
    () => decodeSsdpResponse(ascii(SSDP_OK.replace('EXT:', 'LOCATION: http://192.168.7.1/x'))),
    'BAD_HTTP',
  );
  throwsCode(() => decodeSsdpResponse(ascii(SSDP_OK.replace('EXT:', 'no colon here'))), 'BAD_HTTP');
  throwsCode(() => decodeSsdpResponse(new Uint8Array([0xff, 0xfe, 0x00])), 'BAD_HTTP');
});

test('assertGatewayUrl() allows only plain HTTP on the gateway itself', () => {
  assert.equal(assertGatewayUrl('http://192.168.7.1:5000/d.xml', '192.168.7.1').port, '5000');
  for (const url of [
    'http://192.168.7.2:5000/d.xml',
    'http://192.168.7.1.evil.example/d.xml',
    'http://evil.example/d.xml',
    'https://192.168.7.1/d.xml',
    'file:///etc/passwd',
    'http://user:pw@192.168.7.1/d.xml',
    'not a url',
  ])
    throwsCode(() => assertGatewayUrl(url, '192.168.7.1'), 'WRONG_HOST');
});

const DESCRIPTION = `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceList><device><deviceList><device>
<serviceList>
<service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><controlURL>/ctl/CmnIfCfg</controlURL></service>
<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>/ctl/IPConn</controlURL></service>
</serviceList></device></deviceList></device></deviceList></device></root>`;
const context = { location: 'http://192.168.7.1:35849/rootDesc.xml', gateway: '192.168.7.1' };

test('decodeDeviceDescription() finds the WANIPConnection control URL on the gateway', () => {
  assert.deepEqual(decodeDeviceDescription(DESCRIPTION, context), {
    controlUrl: 'http://192.168.7.1:35849/ctl/IPConn',
    serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1',
  });
});

test('decodeDeviceDescription() refuses hostile descriptions', () => {
  const cases: [string, string, WanAnswerErrorCode][] = [
    [
      'absolute controlURL elsewhere',
      DESCRIPTION.replace('/ctl/IPConn', 'http://10.0.0.9/ctl'),
      'WRONG_HOST',
    ],
    [
      'URLBase elsewhere',
      DESCRIPTION.replace('<device>', '<URLBase>http://evil.example/</URLBase><device>'),
      'WRONG_HOST',
    ],
    [
      'entity bomb',
      `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]>${DESCRIPTION.slice(21)}`,
      'BAD_XML',
    ],
    ['not XML', 'HTTP/1.1 200 OK', 'BAD_XML'],
    ['no root', '<?xml version="1.0"?><html></html>', 'BAD_XML'],
    [
      'no WANIPConnection',
      DESCRIPTION.replace('WANIPConnection:1', 'WANPPPConnection:1'),
      'BAD_XML',
    ],
    ['empty controlURL', DESCRIPTION.replace('/ctl/IPConn', ''), 'BAD_XML'],
    ['oversize', DESCRIPTION + ' '.repeat(70_000), 'TOO_LARGE'],
  ];
  for (const [name, xml, code] of cases)
    assert.throws(
      () => decodeDeviceDescription(xml, context),
      (err: unknown) => err instanceof WanAnswerError && err.code === code,
      name,
    );
});

const SOAP_OK = `<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewExternalIPAddress>81.0.0.2</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>`;

test('encodeGetExternalIpAddress() names the action in SOAPACTION and the body', () => {
  const request = encodeGetExternalIpAddress('urn:schemas-upnp-org:service:WANIPConnection:1');
  assert.equal(
    request.soapAction,
    '"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress"',
  );
  assert.match(
    request.body,
    /<u:GetExternalIPAddress xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">/,
  );
});

test('decodeGetExternalIpAddressResponse() reads the address and refuses hostile answers', () => {
  assert.equal(formatIp(decodeGetExternalIpAddressResponse(SOAP_OK).address), '81.0.0.2');
  const cases: [string, string, WanAnswerErrorCode][] = [
    ['empty address (no connection)', SOAP_OK.replace('81.0.0.2', ''), 'NOT_IPV4'],
    ['0.0.0.0', SOAP_OK.replace('81.0.0.2', '0.0.0.0'), 'NOT_WAN_ADDRESS'],
    ['private', SOAP_OK.replace('81.0.0.2', '192.168.0.1'), 'NOT_WAN_ADDRESS'],
    ['IPv6', SOAP_OK.replace('81.0.0.2', '2001:db8::1'), 'NOT_IPV4'],
    ['garbage', SOAP_OK.replace('81.0.0.2', '81.0.0.2<script>'), 'BAD_XML'],
    [
      'UPnP fault',
      '<?xml version="1.0"?><s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>501</errorCode></UPnPError></detail></s:Fault></s:Body></s:Envelope>',
      'BAD_XML',
    ],
    ['DTD', `<!DOCTYPE x>${SOAP_OK}`, 'BAD_XML'],
    ['oversize', SOAP_OK + ' '.repeat(17_000), 'TOO_LARGE'],
  ];
  for (const [name, xml, code] of cases)
    assert.throws(
      () => decodeGetExternalIpAddressResponse(xml),
      (err: unknown) => err instanceof WanAnswerError && err.code === code,
      name,
    );
});

// ---- gateway, classification, cache, wrapper ------------------------------------------------

test('parseIpv4Gateway() takes the first unicast default route with a gateway', () => {
  assert.equal(
    parseIpv4Gateway('[{"dst":"default","gateway":"192.168.1.1","dev":"eth0","flags":[]}]'),
    '192.168.1.1',
  );
  assert.equal(
    parseIpv4Gateway(
      '[{"dst":"default","type":"unreachable"},{"dst":"default","gateway":"10.0.0.1"}]',
    ),
    '10.0.0.1',
  );
  assert.equal(parseIpv4Gateway('[{"dst":"default","dev":"ppp0"}]'), undefined);
  assert.equal(parseIpv4Gateway(''), undefined);
});

test('classifyWanIpv4() refuses private and special addresses, marks CGN', () => {
  const kind = (text: string): string => {
    const verdict = classifyWanIpv4(hex(text));
    return 'kind' in verdict ? verdict.kind : 'refused';
  };
  assert.deepEqual(
    [
      '51000002',
      '64400a02',
      '647fffff',
      '64800000',
      '0a000001',
      'ac100001',
      'c0a80101',
      '00000000',
      'a9fe0101',
      'e0000001',
      'ffffffff',
    ].map(kind),
    [
      'public',
      'cgn',
      'cgn',
      'public',
      'refused',
      'refused',
      'refused',
      'refused',
      'refused',
      'refused',
      'refused',
    ],
  );
});

test('createWanAddressCache() asks again on a new gateway, after an hour, and sooner after a failure', async () => {
  let nowMs = 0;
  const asked: string[] = [];
  let answer: WanAddress | undefined = { address: '81.0.0.2', via: 'nat-pmp', kind: 'public' };
  const cache = createWanAddressCache({
    nowMs: () => nowMs,
    discover: (gateway, options) => {
      asked.push(gateway);
      if (answer === undefined) options?.onFailure?.('pcp', 'no answer in time');
      return Promise.resolve(answer);
    },
  });
  assert.equal((await cache.lookup('192.168.1.1')).found?.address, '81.0.0.2');
  await Promise.all([cache.lookup('192.168.1.1'), cache.lookup('192.168.1.1')]);
  assert.deepEqual(asked, ['192.168.1.1']);
  await cache.lookup('192.168.2.1');
  assert.deepEqual(asked, ['192.168.1.1', '192.168.2.1']);
  nowMs = 3_600_000;
  answer = undefined;
  const failed = await cache.lookup('192.168.2.1');
  assert.match(failed.reason ?? '', /pcp: no answer in time/);
  nowMs += 299_000;
  await cache.lookup('192.168.2.1');
  assert.equal(asked.length, 3);
  nowMs += 1_000;
  await cache.lookup('192.168.2.1');
  assert.equal(asked.length, 4);
  assert.equal((await cache.lookup(undefined)).reason, 'no IPv4 default gateway');
});

test('withWanAddress() adds wanIpv4 from the gateway and reports each outcome once', async () => {
  let callback: ((view: NetworkView) => void) | undefined;
  const inner: NetworkMonitor = {
    start(onChange) {
      callback = onChange;
      onChange({ hasDefaultRoute: true, addresses: [hex('c0a8010a')], onLink: ['192.168.1.0/24'] });
      return Promise.resolve();
    },
    refresh: () => Promise.resolve(),
    stop: () => undefined,
  };
  let found: WanAddress | undefined = { address: '81.0.0.2', via: 'pcp', kind: 'public' };
  const outcomes: WanLookup[] = [];
  const views: NetworkView[] = [];
  const monitor = withWanAddress(inner, {
    exec: () => Promise.resolve('[{"dst":"default","gateway":"192.168.1.1"}]'),
    cache: {
      lookup: (gateway) =>
        Promise.resolve(
          found === undefined ? { gateway, reason: 'none answered' } : { gateway, found },
        ),
    },
    onOutcome: (outcome) => outcomes.push(outcome),
  });
  await monitor.start((view) => views.push(view));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(views[0]?.wanIpv4 === undefined ? '' : formatIp(views[0].wanIpv4), '81.0.0.2');
  callback?.({ hasDefaultRoute: true, addresses: [hex('c0a8010b')], onLink: ['192.168.1.0/24'] });
  found = undefined;
  callback?.({ hasDefaultRoute: true, addresses: [hex('c0a8010c')], onLink: ['192.168.1.0/24'] });
  callback?.({ hasDefaultRoute: false, addresses: [], onLink: [] });
  await monitor.refresh();
  await new Promise((resolve) => setImmediate(resolve));
  monitor.stop();
  assert.equal(views.length, 4);
  assert.equal(views[2]?.wanIpv4, undefined);
  assert.deepEqual(
    outcomes.map((o) => o.found?.via ?? o.reason),
    ['pcp', 'none answered'],
  );
});

// ---- live -------------------------------------------------------------------------------------

test('discoverWanAddress() with no server ends within its bound and returns undefined', async (t) => {
  // A silent UDP socket on loopback stands for a gateway that answers nothing.
  const silent = createSocket('udp4');
  t.after(() => {
    silent.close();
  });
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  const port = silent.address().port;
  const failures: string[] = [];
  const started = performance.now();
  const found = await discoverWanAddress('127.0.0.1', {
    pcpPort: port,
    ssdpAddress: '127.0.0.1',
    ssdpPort: port,
    onFailure: (via, reason) => failures.push(`${via}: ${reason}`),
  });
  const elapsedMs = performance.now() - started;
  t.diagnostic(`no server: ${Math.round(elapsedMs)} ms; ${failures.join('; ')}`);
  assert.equal(found, undefined);
  assert.ok(elapsedMs < 2_500 + 250, `took ${elapsedMs} ms`);
  assert.equal(failures.length, 3);
});

test('discoverWanAddress() refuses a gateway that is not an IPv4 address', async () => {
  const failures: string[] = [];
  assert.equal(
    await discoverWanAddress('fe80::1', { onFailure: (via) => failures.push(via) }),
    undefined,
  );
  assert.deepEqual(failures, ['pcp', 'nat-pmp', 'upnp']);
});

const MINIUPNPD_HINT = 'the Debian package miniupnpd (nftables backend)';
const WAN_MODULE = fileURLToPath(new URL('./wan-address.js', import.meta.url));

async function liveSkip(): Promise<string | undefined> {
  return (
    (await checkNetns()) ??
    (await checkTool('miniupnpd', ['--version'], { installHint: MINIUPNPD_HINT })) ??
    (await checkTool('nft', ['--version'], {
      installHint: 'the Debian package nftables',
      exitCodes: [0],
    }))
  );
}

test(
  'discoverWanAddress() learns the WAN address from miniupnpd by PCP, NAT-PMP and UPnP IGD (independent server)',
  { skip: await liveSkip(), timeout: 60_000 },
  async (t) => {
    const kit = new NetnsKit();
    const dir = await mkdtemp(join(tmpdir(), 'ttl-miniupnpd-'));
    t.after(async () => {
      await kit.cleanup();
      await rm(dir, { recursive: true, force: true });
    });
    // miniupnpd refuses reserved WAN addresses (RFC 1918, 6598, 5737 TEST-NETs: "Port forwarding
    // is impossible"), so the WAN side carries a public-looking address; the namespaces have no
    // link out of this host, so nothing is ever sent to it.
    const WAN = '81.0.0.2';
    const router = await kit.addNamespace('igd');
    const isp = await kit.addNamespace('igd-isp');
    const device = await kit.addNamespace('igd-dev');
    await kit.link(
      { ns: router, dev: 'wan0', addresses: [`${WAN}/24`] },
      { ns: isp, dev: 'isp0', addresses: ['81.0.0.1/24'] },
    );
    await kit.link(
      { ns: router, dev: 'lan0', addresses: ['192.168.7.1/24'] },
      { ns: device, dev: 'eth0', addresses: ['192.168.7.10/24'] },
    );
    await kit.waitUntilUp();
    await router.ip(['route', 'add', 'default', 'via', '81.0.0.1']);
    await device.ip(['route', 'add', 'default', 'via', '192.168.7.1']);
    // The chains miniupnpd's nftables backend adds its rules to (its defaults: table inet
    // "filter", chains miniupnpd, prerouting_miniupnpd, postrouting_miniupnpd).
    await writeFile(
      join(dir, 'nft.rules'),
      [
        'table inet filter {',
        '  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }',
        '  chain miniupnpd { }',
        '  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }',
        '  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }',
        '  chain prerouting_miniupnpd { }',
        '  chain postrouting_miniupnpd { }',
        '}',
        '',
      ].join('\n'),
    );
    await router.run('nft', ['-f', join(dir, 'nft.rules')]);
    await writeFile(
      join(dir, 'miniupnpd.conf'),
      [
        'ext_ifname=wan0',
        'listening_ip=lan0',
        'http_port=0',
        'enable_natpmp=yes',
        'enable_upnp=yes',
        'secure_mode=yes',
        'uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b',
        'allow 1024-65535 192.168.7.0/24 1024-65535',
        'deny 0-65535 0.0.0.0/0 0-65535',
        '',
      ].join('\n'),
    );
    const server = spawn(
      'ip',
      [
        'netns',
        'exec',
        router.name,
        'miniupnpd',
        '-d',
        '-f',
        join(dir, 'miniupnpd.conf'),
        '-P',
        join(dir, 'miniupnpd.pid'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let serverLog = '';
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        serverLog += chunk.toString();
        if (serverLog.includes('Listening for NAT-PMP/PCP traffic')) resolve();
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      server.once('exit', (code) => {
        reject(new Error(`miniupnpd exited (${String(code)}): ${serverLog.slice(-500)}`));
      });
    });
    t.after(() => {
      server.kill();
    });
    await ready;
    const script = `
    const { discoverWanAddress } = await import(${JSON.stringify(WAN_MODULE)});
    const out = [];
    for (const methods of [['pcp'], ['nat-pmp'], ['upnp'], undefined]) {
      const failures = [];
      const started = performance.now();
      const found = await discoverWanAddress('192.168.7.1', { ...(methods ? { methods } : {}), onFailure: (via, why) => failures.push(via + ': ' + why) });
      out.push({ methods: methods ?? 'all', found: found ?? null, ms: Math.round(performance.now() - started), failures });
    }
    console.log(JSON.stringify(out));`;
    const run = await runTool(
      'ip',
      ['netns', 'exec', device.name, process.execPath, '--input-type=module', '-e', script],
      { timeoutMs: 30_000 },
    );
    assert.equal(run.exitCode, 0, run.stderr);
    const results = z
      .array(
        z
          .object({
            found: z.object({ address: z.string(), via: z.string() }).nullable(),
            ms: z.number(),
          })
          .loose(),
      )
      .parse(JSON.parse(run.stdout));
    t.diagnostic(run.stdout.trim());
    assert.deepEqual(
      results.map((r) => (r.found === null ? null : `${r.found.via} ${r.found.address}`)),
      [`pcp ${WAN}`, `nat-pmp ${WAN}`, `upnp ${WAN}`, `pcp ${WAN}`],
    );
    // RFC 6887 §15: the short MAP was deleted again.
    assert.match(serverLog, /mapping removed/);
  },
);
