import assert from 'node:assert/strict';
import type { Socket } from 'node:dgram';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { acceptAnswer, decodeResponse, verifySign1, type DecodedResponse, type Status } from '../protocol/index.ts';
import { NOW_MS, deviceContext, identifiedRequest, privateRequest, requestBytes, testBundleBytes } from '../testing/collector-fixture.ts';
import { startLiveCollector, type LiveCollector } from '../testing/live-collector.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { loadCollectorConfig } from './config.ts';
import { startCollector, type RunningCollector } from './udp.ts';
import { createRng } from '../testing/prng.ts';

let live: LiveCollector | undefined;
let dir = '';
let port = 0;
let certificate: Uint8Array = new Uint8Array(0);
const LOOPBACK = Uint8Array.of(127, 0, 0, 1);
const logged: string[] = [];

function running(): { collector: RunningCollector; client: Socket } {
  assert.ok(live !== undefined, 'collector started');
  return live;
}

before(async () => {
  // The fixtures' feed and certificate are valid around the fixed NOW; the clock runs from there.
  // Every datagram here comes from one prefix: the fixture's rate limit has room for a flood.
  const started = Date.now();
  live = await startLiveCollector({ deps: { now: () => NOW_MS + (Date.now() - started), log: (_level, _event, message) => logged.push(message) } });
  const bound = live.collector.addresses();
  assert.equal(bound.length, 1);
  assert.equal(bound[0]?.address, '127.0.0.1');
  ({ dir, port, certificate } = live);
});

after(async () => {
  await live?.close();
});

/** Sends one request and returns the one answer; rejects naming the drops when there is none. */
async function ask(bytes: Uint8Array): Promise<{ bytes: Uint8Array; answer: DecodedResponse }> {
  assert.ok(live !== undefined, 'collector started');
  return live.ask(bytes);
}

/** Sends a datagram the collector must not answer; resolves once it has handled it. */
async function sendUnanswered(bytes: Uint8Array): Promise<void> {
  assert.ok(live !== undefined, 'collector started');
  await live.sendHandled(bytes);
}

function counter(name: string): number {
  return running().collector.counters().get(name) ?? 0;
}

test('startCollector() answers an identified FAIL, signed by the collector key', async () => {
  const { answer } = await ask(requestBytes(identifiedRequest()));
  const r = answer.response;
  assert.ok(r.kind === 'verdict', r.kind);
  assert.equal(r.verdict.value.status, 'fail');
  assert.ok(r.verdict.value.record !== undefined);
  assert.ok(verifySign1(r.verdict.sign1, TRUST_KEYS.collector.publicKey));
  assert.deepEqual(r.verdict.value.source, Uint8Array.of(127, 0, 0, 1));
  assert.equal(r.verdict.value.feedVersion, 42);
});

test('startCollector() answers PASS for a patched build and UNKNOWN for an unlisted model', async () => {
  const pass = (await ask(requestBytes(identifiedRequest({ swVersion: { version: '2.1' } })))).answer.response;
  assert.ok(pass.kind === 'unsigned-verdict', pass.kind);
  assert.equal(pass.verdict.status, 'pass');
  const unknown = (await ask(requestBytes(identifiedRequest({ model: 'dir860l' })))).answer.response;
  assert.ok(unknown.kind === 'unsigned-verdict', unknown.kind);
  assert.equal(unknown.verdict.status, 'unknown');
});

test('startCollector(): the device accepts every live answer by the full acceptance rule (PASS, FAIL, WARN, UNKNOWN, private)', async () => {
  const cases: [string, Parameters<typeof identifiedRequest>[0], Status][] = [
    ['vulnerable DIR-859', {}, 'fail'],
    ['Hikvision camera, record not eligible', { vendor: 'hikvision', model: 'ds2cd2032i' }, 'warn'],
    ['patched DIR-859', { swVersion: { version: '2.1' } }, 'pass'],
    ['unlisted model', { model: 'dir860l' }, 'unknown'],
  ];
  for (const [name, overrides, status] of cases) {
    for (const quarantined of [false, true]) {
      const { answer } = await ask(requestBytes(identifiedRequest({ ...overrides, quarantined })));
      const context = deviceContext({ mode: 'identified', quarantined, certificate, collector: LOOPBACK, scopeAddress: LOOPBACK });
      const accepted = acceptAnswer(answer, context);
      assert.ok(accepted.accept, `${name}, quarantined ${quarantined}: refused ${accepted.accept ? '' : accepted.reason}`);
      assert.equal(accepted.status, status, name);
      // FAIL and WARN are always signed; PASS and UNKNOWN only to a device that says it is quarantined.
      const signed = status === 'fail' || status === 'warn' || quarantined;
      assert.equal(accepted.signed, signed, name);
      assert.equal(accepted.scopeCheck, signed ? 'verified' : 'not-applicable', name);
    }
  }
  const { answer } = await ask(requestBytes(privateRequest()));
  const accepted = acceptAnswer(answer, deviceContext({ mode: 'private', certificate, collector: LOOPBACK, scopeAddress: LOOPBACK }));
  assert.ok(accepted.accept, accepted.accept ? '' : accepted.reason);
  assert.equal(accepted.status, 'fail', 'the device derives FAIL from its bucket page');
  // The same answer from another source is refused before any signature work.
  const spoofed = acceptAnswer(answer, deviceContext({ mode: 'private', certificate, collector: LOOPBACK, scopeAddress: LOOPBACK, from: Uint8Array.of(127, 0, 0, 2) }));
  assert.ok(!spoofed.accept);
  assert.equal(spoofed.reason, 'WRONG_SOURCE');
});

test('startCollector() answers a private announcement with its bucket page and the signed policy', async () => {
  const r = (await ask(requestBytes(privateRequest()))).answer.response;
  assert.ok(r.kind === 'private', r.kind);
  assert.ok(verifySign1(r.policy.sign1, TRUST_KEYS.collector.publicKey));
  assert.equal(r.policy.value.operator, 'Example ISP');
  assert.ok(r.bucket.value.entries.length > 0);
});

test('startCollector() does not answer a malformed datagram and counts its drop code', async () => {
  const before = counter('BAD_LENGTH');
  const replies = counter('replies');
  await sendUnanswered(new Uint8Array(10));
  assert.equal(counter('BAD_LENGTH'), before + 1);
  assert.equal(counter('replies'), replies);
});


test('startCollector() survives 20,000 random, truncated and mutated datagrams and still answers', async () => {
  const { collector, client } = running();
  const random = createRng(0x7a771e5);
  const valid = [requestBytes(identifiedRequest()), requestBytes(privateRequest()), requestBytes(identifiedRequest({ model: 'dir860l' }))];
  let largestAnswer = 0;
  const onMessage = (reply: Buffer): void => {
    largestAnswer = Math.max(largestAnswer, reply.byteLength);
  };
  client.on('message', onMessage);
  const TOTAL = 20_000;
  const BATCH = 50; // well inside the loopback receive buffer (50 × 1232 bytes ≈ 60 KiB)
  let handled = 0;
  const counting = (): void => {
    handled++;
  };
  collector.events.on('handled', counting);
  try {
    for (let sent = 0; sent < TOTAL; ) {
      const target = handled + BATCH;
      for (let i = 0; i < BATCH; i++, sent++) {
        const base = valid[Math.floor(random() * valid.length)] ?? new Uint8Array(0);
        let bytes: Uint8Array;
        const shape = random();
        if (shape < 0.2) {
          bytes = new Uint8Array(Math.floor(random() * 1300)).map(() => Math.floor(random() * 256));
        } else if (shape < 0.4) {
          bytes = base.slice(0, Math.floor(random() * base.byteLength));
        } else {
          bytes = base.slice();
          const flips = 1 + Math.floor(random() * 4);
          for (let f = 0; f < flips; f++) {
            const at = Math.floor(random() * Math.min(bytes.byteLength, random() < 0.8 ? 64 : bytes.byteLength));
            bytes[at] = Math.floor(random() * 256);
          }
        }
        client.send(bytes, port, '127.0.0.1');
      }
      // Bounded wait without sleeping: each handled datagram emits once; loopback keeps order.
      while (handled < target) await once(collector.events, 'handled');
    }
  } finally {
    collector.events.off('handled', counting);
  }
  // A final valid request, with a message id no fuzz request used, is still answered correctly;
  // fuzz answers still in flight arrive before it (loopback keeps order) and are skipped.
  const finalRequest = requestBytes(identifiedRequest(), 0xbeef);
  let answer: DecodedResponse | undefined;
  const answered = new Promise<void>((resolve) => {
    const onFinal = (reply: Buffer): void => {
      let decoded: DecodedResponse;
      try {
        decoded = decodeResponse(new Uint8Array(reply));
      } catch {
        return; // a fuzz answer this client cannot decode
      }
      if (decoded.frame.messageId !== 0xbeef) return;
      answer = decoded;
      client.off('message', onFinal);
      resolve();
    };
    client.on('message', onFinal);
  });
  client.send(finalRequest, port, '127.0.0.1');
  await answered;
  client.off('message', onMessage);
  assert.ok(answer !== undefined);
  assert.ok(answer.response.kind === 'verdict' && answer.response.verdict.value.status === 'fail');
  assert.ok(largestAnswer <= 1232, `largest answer ${largestAnswer} bytes`);
  assert.equal(counter('INTERNAL'), 0);
  assert.equal(counter('OVERSIZE_ANSWER'), 0);
  assert.equal(counter('EXTRA_REPLY'), 0);
});

test('reload() keeps the running feed when the new bundle is bad, and says why', async () => {
  await writeFile(join(dir, 'bundle.cbor'), new Uint8Array([1, 2, 3]));
  await running().collector.reload();
  assert.ok(logged.some((line) => /feed not reloaded, keeping feed version 42: .*bundle\.cbor: feed bundle refused/.test(line)), logged.join('\n'));
  const r = (await ask(requestBytes(identifiedRequest()))).answer.response;
  assert.ok(r.kind === 'verdict' && r.verdict.value.status === 'fail');
});

test('startCollector() refuses a port in use, naming the address', async () => {
  const config = await loadCollectorConfig(join(dir, 'collector.yaml'));
  await writeFile(join(dir, 'bundle.cbor'), testBundleBytes());
  const busy = { ...config, listen: [{ address: '127.0.0.1', family: 4 as const, port }] };
  await assert.rejects(startCollector(busy, { now: () => NOW_MS, log: () => undefined }), /listen 127\.0\.0\.1:\d+: EADDRINUSE: the port is in use/);
});

test('reload() applies a new operator and rate limit in place, and says that listen needs a restart', async () => {
  const { collector } = running();
  const file = join(dir, 'collector.yaml');
  const original = await readFile(file, 'utf8');
  await writeFile(join(dir, 'bundle.cbor'), testBundleBytes());
  await writeFile(
    file,
    original
      .replace('operator: Example ISP', 'operator: Other ISP')
      .replace('rateLimit: {ratePerSecond: 1000000, burst: 1000000}', 'rateLimit: {ratePerSecond: 0.001, burst: 1, slip: 0}')
      .replace('port: 0', 'port: 1'),
  );
  try {
    await collector.reload();
    assert.ok(logged.some((line) => /reload: listen changed; these take effect on restart only/.test(line)), logged.join('\n'));
    const r = (await ask(requestBytes(privateRequest()))).answer.response;
    assert.ok(r.kind === 'private', r.kind);
    assert.equal(r.policy.value.operator, 'Other ISP', 'the policy document is re-signed for the new operator');
    // The new table allows one request per prefix, then drops (slip 0: no back-off answer).
    const limited = counter('RATE_LIMITED');
    await sendUnanswered(requestBytes(identifiedRequest()));
    assert.equal(counter('RATE_LIMITED'), limited + 1);
  } finally {
    await writeFile(file, original);
    await collector.reload();
  }
  const r = (await ask(requestBytes(identifiedRequest()))).answer.response;
  assert.ok(r.kind === 'verdict' && r.verdict.value.status === 'fail', 'the old rate limit is back');
});
