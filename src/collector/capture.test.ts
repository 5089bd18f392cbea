/**
 * Interop evidence on the wire (issue #5): tshark captures the loopback exchange with the live
 * collector — one identified announcement, its FAIL — and dissects both packets as CoAP carrying
 * CBOR. Needs root (to capture on `lo`) and tshark; skipped with the reason otherwise (CI has both).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { toHex } from '../crypto/index.ts';
import { decodeResponse } from '../protocol/index.ts';
import {
  NOW_MS,
  TOKEN,
  identifiedRequest,
  requestBytes,
  writeCollectorDir,
} from '../testing/collector-fixture.ts';
import { checkTool, runTool } from '../testing/external-tool.ts';
import { loadCollectorConfig } from './config.ts';
import { startCollector, type RunningCollector } from './udp.ts';

const TSHARK_HINT = 'the Debian package tshark';
const notRoot =
  process.getuid?.() === 0
    ? undefined
    : 'capturing on the loopback interface needs root (CI runs as root)';
const skip =
  notRoot ??
  (await checkTool('tshark', ['--version'], { installHint: TSHARK_HINT, exitCodes: [0] }));

const MESSAGE_ID = 0x1234;
const FIELDS = [
  'frame.protocols',
  'frame.len',
  'udp.length',
  'udp.srcport',
  'udp.dstport',
  'coap.code',
  'coap.mid',
  'coap.token',
] as const;

let capture: ChildProcess | undefined;
let collector: RunningCollector | undefined;
let client: Socket | undefined;
let dir = '';

after(async () => {
  if (capture !== undefined && capture.exitCode === null && capture.signalCode === null)
    capture.kill('SIGTERM');
  client?.close();
  await collector?.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/**
 * Resolves once tshark is capturing; rejects if it exits first or is not ready within 20 s.
 * "Capturing on 'Loopback: lo'" comes before dumpcap has its filter attached (a datagram sent right
 * then is missed); "Capture started." follows once dumpcap reports its file, i.e. the capture runs.
 */
function capturing(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => {
      reject(new Error(`tshark not capturing after 20 s: ${stderr}`));
    }, 20_000);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.includes('Capturing on') && stderr.includes('Capture started')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tshark exited (${String(code)}) before capturing: ${stderr}`));
    });
  });
}

test(
  'tshark captures the loopback exchange with the live collector: a CoAP POST and its 2.04, same token, both CBOR, the answer no longer than the request',
  { skip, timeout: 60_000 },
  async (t) => {
    dir = await mkdtemp(join(tmpdir(), 'tattler-capture-'));
    const started = Date.now();
    collector = await startCollector(await loadCollectorConfig(await writeCollectorDir(dir)), {
      now: () => NOW_MS + (Date.now() - started),
      log: () => undefined,
    });
    const port = collector.addresses()[0]?.port ?? 0;
    assert.ok(port > 0);
    const pcap = join(dir, 'exchange.pcap');
    const child = spawn('tshark', ['-i', 'lo', '-f', `udp port ${port}`, '-c', '2', '-w', pcap], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    capture = child;
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    await capturing(child);

    client = createSocket('udp4');
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    const request = requestBytes(identifiedRequest(), MESSAGE_ID);
    const answered = once(client, 'message') as Promise<[Buffer]>;
    client.send(request, port, '127.0.0.1');
    const [reply] = await answered;
    const answer = decodeResponse(new Uint8Array(reply));
    assert.ok(
      answer.response.kind === 'verdict' && answer.response.verdict.value.status === 'fail',
    );
    // -c 2: tshark stops by itself after the request and the answer.
    const timer = setTimeout(() => child.kill('SIGTERM'), 10_000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    assert.equal(signal, null, 'tshark did not see both packets within 10 s');
    assert.equal(code, 0, 'tshark wrote the two packets and exited');

    const dissected = await runTool(
      'tshark',
      [
        '-r',
        pcap,
        '-d',
        `udp.port==${port},coap`,
        '-T',
        'fields',
        '-E',
        'separator=/t',
        ...FIELDS.flatMap((f) => ['-e', f]),
      ],
      { timeoutMs: 20_000 },
    );
    assert.equal(dissected.exitCode, 0, dissected.stderr);
    const packets = dissected.stdout
      .trim()
      .split('\n')
      .map((line) => {
        const values = line.split('\t');
        return Object.fromEntries(FIELDS.map((f, i) => [f, values[i] ?? ''])) as Record<
          (typeof FIELDS)[number],
          string
        >;
      });
    for (const p of packets) t.diagnostic(JSON.stringify(p));
    assert.equal(packets.length, 2, dissected.stdout);
    const [req, res] = packets;
    assert.ok(req !== undefined && res !== undefined);
    for (const p of [req, res]) {
      assert.match(
        p['frame.protocols'],
        /:udp:coap:cbor$/,
        'CoAP handed the payload to the CBOR dissector',
      );
      assert.equal(p['coap.mid'], String(MESSAGE_ID));
      assert.equal(p['coap.token'], toHex(TOKEN));
    }
    assert.equal(req['coap.code'], '2', 'POST (0.02)');
    assert.equal(req['udp.dstport'], String(port));
    assert.equal(res['coap.code'], '68', '2.04 Changed');
    assert.equal(res['udp.srcport'], String(port));
    assert.equal(Number(req['udp.length']), 8 + request.byteLength);
    assert.equal(Number(res['udp.length']), 8 + reply.byteLength);
    assert.ok(
      Number(res['udp.length']) <= Number(req['udp.length']),
      `answer ${res['udp.length']} > request ${req['udp.length']} (UDP lengths)`,
    );
  },
);
