/**
 * Robustness run (issue #5, "Tests and evidence"): ≥ 200,000 seeded random, truncated and mutated
 * datagrams at the live collector on loopback. Every answer is matched to the request that caused
 * it (CoAP message id + token, which the answer echoes; loopback and the collector keep order) and
 * is no longer than it; bytes out ≤ bytes in; afterwards a valid request is answered correctly; the
 * process RSS grew by less than 20 MB after a warm-up.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import {
  decodeResponse,
  encodeRequest,
  type DecodedResponse,
  type Request,
} from '../protocol/index.ts';
import {
  NOW_MS,
  identifiedRequest,
  privateRequest,
  writeCollectorDir,
} from '../testing/collector-fixture.ts';
import { loadCollectorConfig } from './config.ts';
import { startCollector } from './udp.ts';
import { createRng } from '../testing/prng.ts';

const TOTAL = 200_000;
const WARM_UP = 10_000;
/** Datagrams in flight at once: 64 × ~2.3 KiB of kernel buffer each stays inside the default 208 KiB. */
const BATCH = 64;
const MAX_RSS_GROWTH = 20 * 1024 * 1024;
/** The padded request size (docs/protocol.md): no answer may exceed it either. */
const MAX_DATAGRAM = 1232;


/** `global.gc`, exposed at run time when node was not started with --expose-gc. */
function collector(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** The CoAP message id and token of a datagram as one string, or undefined when the header is cut. */
function exchangeKey(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength < 4) return undefined;
  const tokenLength = (bytes[0] ?? 0) & 0x0f;
  if (tokenLength > 8 || bytes.byteLength < 4 + tokenLength) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset + 2, 2 + tokenLength).toString('latin1');
}

interface Sent {
  readonly key: string | undefined;
  readonly length: number;
}

test('the live collector survives 200,000 random, truncated and mutated datagrams: BAF ≤ 1 per answer, bounded RSS, still answers', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tattler-robustness-'));
  const configPath = await writeCollectorDir(dir);
  const started = Date.now();
  const running = await startCollector(await loadCollectorConfig(configPath), {
    now: () => NOW_MS + (Date.now() - started),
    log: () => undefined,
  });
  const client: Socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  const port = running.addresses()[0]?.port ?? 0;
  assert.ok(port > 0);
  try {
    const random = createRng(0x7a771e5);
    const byte = (): number => Math.floor(random() * 256);
    const bases: Request[] = [
      identifiedRequest(),
      privateRequest(),
      identifiedRequest({ model: 'dir860l' }),
      identifiedRequest({ swVersion: { version: '2.1' } }),
      privateRequest(1),
    ];
    let messageId = 0;
    /** A valid request with a fresh message id and a random token of 0–8 bytes. */
    const valid = (): Uint8Array => {
      const base = bases[Math.floor(random() * bases.length)] ?? identifiedRequest();
      messageId = (messageId + 1) & 0xffff;
      const token = new Uint8Array(Math.floor(random() * 9)).map(byte);
      return encodeRequest(base, { messageId, token });
    };
    const shapes = { random: 0, truncated: 0, mutated: 0, valid: 0 };
    const next = (): Uint8Array => {
      const shape = random();
      if (shape < 0.3) {
        shapes.random++;
        return new Uint8Array(Math.floor(random() * 1501)).map(byte);
      }
      const bytes = valid();
      if (shape < 0.5) {
        shapes.truncated++;
        return bytes.slice(0, Math.floor(random() * bytes.byteLength));
      }
      if (shape < 0.95) {
        shapes.mutated++;
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips; f++) {
          // Mostly the CoAP header, options and CBOR head, where the checks are; sometimes anywhere.
          const at = Math.floor(random() * (random() < 0.8 ? 96 : bytes.byteLength));
          bytes[at] = random() < 0.5 ? byte() : (bytes[at] ?? 0) ^ (1 << Math.floor(random() * 8));
        }
        // A few grow or shrink by a little: the fixed padded size is the first check.
        if (random() < 0.1)
          return random() < 0.5
            ? bytes.subarray(0, bytes.byteLength - 1 - Math.floor(random() * 16))
            : Uint8Array.from([
                ...bytes,
                ...new Uint8Array(1 + Math.floor(random() * 16)).map(byte),
              ]);
        return bytes;
      }
      shapes.valid++;
      return bytes;
    };

    // Requests sent but not yet passed by an answer, in order; trimmed as answers arrive.
    let window: Sent[] = [];
    let cursor = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    let answers = 0;
    let largestAnswer = 0;
    const violations: string[] = [];
    const onAnswer = (reply: Buffer): void => {
      answers++;
      bytesOut += reply.byteLength;
      largestAnswer = Math.max(largestAnswer, reply.byteLength);
      const key = exchangeKey(reply);
      let at = cursor;
      while (at < window.length && window[at]?.key !== key) at++;
      const request = window[at];
      if (key === undefined || request === undefined) {
        if (violations.length < 10)
          violations.push(`answer #${answers} (${reply.byteLength} bytes) matches no request sent`);
        return;
      }
      if (reply.byteLength > request.length && violations.length < 10)
        violations.push(
          `answer #${answers}: ${reply.byteLength} bytes for a ${request.length}-byte request`,
        );
      cursor = at + 1;
    };
    client.on('message', onAnswer);
    let handled = 0;
    const onHandled = (): void => {
      handled++;
    };
    running.events.on('handled', onHandled);

    const gc = collector();
    let rssAfterWarmUp = 0;
    const t0 = performance.now();
    let sent = 0;
    try {
      while (sent < TOTAL) {
        const target = sent + BATCH;
        for (; sent < target; sent++) {
          const bytes = next();
          bytesIn += bytes.byteLength;
          window.push({ key: exchangeKey(bytes), length: bytes.byteLength });
          client.send(bytes, port, '127.0.0.1');
        }
        // Every datagram emits 'handled' once: a lost one would stall here until the test times out.
        while (handled < sent) await once(running.events, 'handled');
        // Keep the window bounded: requests before the cursor can no longer be answered out of order.
        if (cursor > 4 * BATCH || window.length > 8 * BATCH) {
          const drop = Math.max(cursor, window.length - 8 * BATCH);
          window = window.slice(drop);
          cursor = Math.max(0, cursor - drop);
        }
        if (sent === WARM_UP + (WARM_UP % BATCH === 0 ? 0 : BATCH - (WARM_UP % BATCH))) {
          gc();
          rssAfterWarmUp = process.memoryUsage().rss;
        }
      }
    } finally {
      running.events.off('handled', onHandled);
    }
    const seconds = (performance.now() - t0) / 1000;

    // The final valid request (message id 0xbeef never used by the run with an 8-byte token
    // 0x5a…): answers still in flight arrive first and go through the same check.
    const finalToken = new Uint8Array(8).fill(0x5a);
    const finalRequest = encodeRequest(identifiedRequest(), {
      messageId: 0xbeef,
      token: finalToken,
    });
    const answered = new Promise<DecodedResponse>((resolve) => {
      const onFinal = (reply: Buffer): void => {
        if (exchangeKey(reply) !== exchangeKey(finalRequest)) return;
        client.off('message', onFinal);
        resolve(decodeResponse(new Uint8Array(reply)));
      };
      client.on('message', onFinal);
    });
    bytesIn += finalRequest.byteLength;
    window.push({ key: exchangeKey(finalRequest), length: finalRequest.byteLength });
    client.send(finalRequest, port, '127.0.0.1');
    const final = await answered;
    client.off('message', onAnswer);
    gc();
    const rssAtEnd = process.memoryUsage().rss;
    const growth = rssAtEnd - rssAfterWarmUp;
    const counters = running.counters();
    const count = (name: string): number => counters.get(name) ?? 0;

    t.diagnostic(
      `seed 0x7a771e5: sent ${sent + 1} datagrams (${JSON.stringify(shapes)} + 1 final), handled ${handled + 1}, in ${seconds.toFixed(1)} s`,
    );
    t.diagnostic(
      `bytes in ${bytesIn}, bytes out ${bytesOut} (ratio ${(bytesOut / bytesIn).toFixed(4)}), ${answers} answers, largest ${largestAnswer} bytes`,
    );
    t.diagnostic(
      `RSS after a ${WARM_UP}-datagram warm-up ${(rssAfterWarmUp / 1048576).toFixed(1)} MiB, at the end ${(rssAtEnd / 1048576).toFixed(1)} MiB, growth ${(growth / 1048576).toFixed(2)} MiB`,
    );
    t.diagnostic(
      `counters: ${JSON.stringify(Object.fromEntries([...counters].filter(([k]) => !k.includes('{'))))}`,
    );

    assert.ok(sent >= 200_000);
    assert.equal(
      handled,
      sent,
      'every datagram sent was handled: none dropped by the socket buffer',
    );
    assert.deepEqual(violations, []);
    assert.ok(answers > 0, 'the run produced answers to check');
    assert.ok(bytesOut <= bytesIn, `bytes out ${bytesOut} > bytes in ${bytesIn}`);
    assert.ok(largestAnswer <= MAX_DATAGRAM, `largest answer ${largestAnswer} bytes`);
    assert.equal(count('OVERSIZE_ANSWER'), 0);
    assert.equal(count('EXTRA_REPLY'), 0);
    assert.equal(count('INTERNAL'), 0);
    assert.equal(count('SEND_ERROR'), 0);
    assert.equal(count('SOCKET_ERROR'), 0);
    assert.equal(
      count('replies'),
      answers,
      'every reply the collector sent arrived, and nothing else',
    );
    assert.deepEqual(final.frame.token, finalToken);
    assert.ok(final.response.kind === 'verdict', final.response.kind);
    assert.equal(final.response.verdict.value.status, 'fail');
    assert.ok(growth < MAX_RSS_GROWTH, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB`);
  } finally {
    client.close();
    await running.close();
    await rm(dir, { recursive: true, force: true });
  }
});
