import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { problemsOf } from '../../config/config-file.ts';
import { checkTool, runTool } from '../../testing/external-tool.ts';
import { FIXED, QUARANTINED } from '../../testing/owner-changes.ts';
import { formatSummary } from '../texts.ts';
import {
  MAX_SYSLOG_BYTES,
  createSyslogChannel,
  formatSyslogMessage,
  loggerArguments,
  syslogConfigSchema,
} from './syslog.ts';

const HEADER = {
  facility: 'daemon',
  appName: 'tattler-agent',
  hostname: 'cam1',
  procId: '4242',
} as const;
const EXPECTED =
  '<28>1 2026-11-26T06:00:00.000Z cam1 tattler-agent 4242 STATUS ' +
  '[tattler@32473 status="quarantined" previous="clear" reason="FAIL accepted" vendor="D-Link" ' +
  'model="DIR-859" version="1.05B03" advisories="CVE-2019-17621" fixed="1.06"] \uFEFF' +
  formatSummary(QUARANTINED);

const loggerMissing = await checkTool('logger', ['--version'], {
  installHint: 'the Debian package bsdutils',
  exitCodes: [0],
});

let receiver: Socket;
let port: number;

before(async () => {
  receiver = createSocket('udp4');
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  port = receiver.address().port;
});

after(() => {
  receiver.close();
});

/** The next datagram the receiver gets, as text. */
async function nextDatagram(): Promise<string> {
  const [bytes] = (await once(receiver, 'message')) as [Buffer];
  return bytes.toString('utf8');
}

test('formatSyslogMessage() writes PRI, version, timestamp, host, app, procid, msgid, SD and BOM-prefixed text', () => {
  assert.equal(formatSyslogMessage(QUARANTINED, HEADER), EXPECTED);
  // daemon (3) × 8 + notice (5) for a fix; an invalid timestamp and host become NILVALUE.
  const fixed = formatSyslogMessage(
    { ...FIXED, at: 'yesterday' },
    { ...HEADER, hostname: 'has space' },
  );
  assert.match(
    fixed,
    /^<29>1 - - tattler-agent 4242 STATUS \[tattler@32473 status="clear" previous="quarantined" /,
  );
});

test('formatSyslogMessage() escapes ", \\ and ] in SD values and stays within MAX_SYSLOG_BYTES', () => {
  const change = { ...QUARANTINED, reason: 'a "quoted" \\ and ] reason' };
  assert.ok(
    formatSyslogMessage(change, HEADER).includes('reason="a \\"quoted\\" \\\\ and \\] reason"'),
  );
  const long = {
    ...QUARANTINED,
    current: {
      ...QUARANTINED.current,
      device: { ...QUARANTINED.current.device, model: 'é'.repeat(2000) },
    },
  };
  const text = formatSyslogMessage(long, HEADER);
  assert.ok(Buffer.byteLength(text, 'utf8') <= MAX_SYSLOG_BYTES);
  assert.doesNotMatch(text, /\uFFFD/);
});

test('createSyslogChannel() udp: a loopback receiver gets the exact RFC 5424 message', async () => {
  const channel = createSyslogChannel(
    {
      transport: 'udp',
      host: '127.0.0.1',
      port,
      facility: 'daemon',
      appName: 'tattler-agent',
      hostname: 'cam1',
    },
    { procId: '4242' },
  );
  const arrived = nextDatagram();
  assert.deepEqual(await channel.send(QUARANTINED), { delivered: true, attempts: 1 });
  assert.equal(await arrived, EXPECTED);
  await channel.close();
});

test('createSyslogChannel() local: runs logger with tag, priority and the summary', async () => {
  const calls: (readonly string[])[] = [];
  const channel = createSyslogChannel(
    {
      transport: 'local',
      host: '127.0.0.1',
      port: 514,
      facility: 'daemon',
      appName: 'tattler-agent',
    },
    {
      runLogger: (args) => {
        calls.push(args);
        return Promise.resolve(calls.length === 1 ? 0 : 1);
      },
    },
  );
  assert.deepEqual(await channel.send(QUARANTINED), { delivered: true, attempts: 1 });
  assert.deepEqual(
    calls[0],
    loggerArguments(QUARANTINED, { facility: 'daemon', appName: 'tattler-agent' }),
  );
  assert.deepEqual(calls[0].slice(0, 5), [
    '--socket-errors=off',
    '-t',
    'tattler-agent',
    '-p',
    'daemon.warning',
  ]);
  assert.equal(
    calls[0].at(-1),
    `status=quarantined advisories=CVE-2019-17621 fixed=1.06: ${formatSummary(QUARANTINED)}`,
  );
  assert.deepEqual(await channel.send(FIXED), {
    delivered: false,
    attempts: 1,
    error: 'logger exited with 1',
  });
});

test(
  'loggerArguments() are accepted by the real util-linux logger (sent to a loopback receiver)',
  { skip: loggerMissing },
  async () => {
    const args = loggerArguments(QUARANTINED, { facility: 'daemon', appName: 'tattler-agent' });
    const arrived = nextDatagram();
    // --server/--port/--udp send to our receiver instead of /dev/log; the other arguments are the channel's.
    const result = await runTool(
      'logger',
      ['--server', '127.0.0.1', '--port', String(port), '--udp', ...args],
      {
        timeoutMs: 5_000,
      },
    );
    assert.equal(result.exitCode, 0, result.stderr);
    const line = await arrived;
    assert.match(line, /^<28>/); // daemon.warning
    assert.ok(line.includes('tattler-agent'));
    assert.ok(
      line.includes('status=quarantined advisories=CVE-2019-17621 fixed=1.06: Tattler found that'),
    );
  },
);

test('syslogConfigSchema defaults to local, and asks for host with udp', () => {
  assert.deepEqual(syslogConfigSchema.parse({}), {
    transport: 'local',
    host: '127.0.0.1',
    port: 514,
    facility: 'daemon',
    appName: 'tattler-agent',
  });
  const noHost = syslogConfigSchema.safeParse({ transport: 'udp' });
  assert.ok(!noHost.success);
  assert.deepEqual(problemsOf(noHost.error), [
    {
      path: 'host',
      message: 'missing with transport: udp — add the syslog server, e.g. host: 192.0.2.10',
    },
  ]);
  const wrong = syslogConfigSchema.safeParse({ transport: 'tcp', facility: 'kern', prot: 514 });
  assert.ok(!wrong.success);
  const problems = problemsOf(wrong.error);
  assert.deepEqual(
    new Set(problems.map((p) => p.path)),
    new Set(['prot', 'transport', 'facility']),
  );
  assert.ok(problems.some((p) => p.path === 'prot' && p.message.includes('did you mean "port"')));
});
