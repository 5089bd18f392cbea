import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { problemsOf } from '../../config/config-file.ts';
import { QUARANTINED } from '../../testing/owner-changes.ts';
import {
  WEBHOOK_DEFAULTS,
  backoffDelayMs,
  buildWebhookPayload,
  createWebhookChannel,
  parseRetryAfter,
  webhookConfigSchema,
  type WebhookDeps,
  type WebhookOptions,
} from './webhook.ts';

const SECRET = 'owner-secret-0123456789abcdef';
const NOW_MS = Date.UTC(2026, 10, 26, 6, 0, 0);

/** One request as the receiver saw it. */
interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** The receiver's script: what to answer to each request, in turn (the last one repeats). */
type Answer = { status: number; headers?: Record<string, string> } | 'hang';

let server: Server;
let url: string;
let received: Received[] = [];
let answers: Answer[] = [];
const hanging = new Set<ServerResponse>();

before(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const answer = answers[Math.min(received.length - 1, answers.length - 1)] ?? { status: 204 };
      if (answer === 'hang') {
        hanging.add(response);
        return;
      }
      response.writeHead(answer.status, answer.headers).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

/** A channel with recorded, instant backoff waits and a fixed clock and random. */
function channelFor(script: Answer[], overrides: Partial<WebhookOptions> = {}) {
  received = [];
  answers = script;
  const waits: number[] = [];
  const deps: WebhookDeps = {
    nowMs: () => NOW_MS,
    random: () => 0.5,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
  const channel = createWebhookChannel(
    { ...WEBHOOK_DEFAULTS, url, secret: SECRET, ...overrides },
    deps,
  );
  return { channel, waits };
}

test('webhook: POSTs the versioned payload with a timestamp and an HMAC the receiver can verify', async () => {
  const { channel } = channelFor([{ status: 204 }]);
  assert.deepEqual(await channel.send(QUARANTINED), { delivered: true, attempts: 1 });
  const [request] = received;
  assert.ok(request !== undefined);
  assert.equal(request.headers['content-type'], 'application/json');
  const body: unknown = JSON.parse(request.body);
  assert.deepEqual(body, JSON.parse(JSON.stringify(buildWebhookPayload(QUARANTINED))));
  assert.deepEqual(Object.keys(body as object).slice(0, 3), ['version', 'event', 'at']);
  assert.equal((body as { version: number }).version, 1);
  // What a receiver does: recompute over "<timestamp>.<raw body>" and compare in constant time.
  const timestamp = request.headers['x-tattler-timestamp'];
  assert.equal(timestamp, String(NOW_MS / 1000));
  const expected = `sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${request.body}`).digest('hex')}`;
  const signature = String(request.headers['x-tattler-signature']);
  assert.ok(timingSafeEqual(Buffer.from(signature), Buffer.from(expected)));
  await channel.close();
});

test('webhook: a 500 then a 200 is delivered on the 2nd attempt after a jittered backoff', async () => {
  const { channel, waits } = channelFor([{ status: 500 }, { status: 200 }]);
  assert.deepEqual(await channel.send(QUARANTINED), { delivered: true, attempts: 2 });
  assert.equal(received.length, 2);
  assert.deepEqual(waits, [500]); // random 0.5 × min(30 s, 1 s × 2^0)
});

test('webhook: a 400 is not retried', async () => {
  const { channel, waits } = channelFor([{ status: 400 }]);
  assert.deepEqual(await channel.send(QUARANTINED), {
    delivered: false,
    attempts: 1,
    error: 'HTTP 400',
  });
  assert.equal(received.length, 1);
  assert.deepEqual(waits, []);
});

test('webhook: 5xx until the last attempt gives up after maxAttempts with growing waits', async () => {
  const { channel, waits } = channelFor([{ status: 503 }]);
  assert.deepEqual(await channel.send(QUARANTINED), {
    delivered: false,
    attempts: 5,
    error: 'HTTP 503',
  });
  assert.deepEqual(waits, [500, 1000, 2000, 4000]);
});

test('webhook: a 429 waits for Retry-After; one beyond maxRetryAfterMs ends the retries', async () => {
  const polite = channelFor([{ status: 429, headers: { 'retry-after': '7' } }, { status: 200 }]);
  assert.deepEqual(await polite.channel.send(QUARANTINED), { delivered: true, attempts: 2 });
  assert.deepEqual(polite.waits, [7000]);
  const busy = channelFor([{ status: 503, headers: { 'retry-after': '3600' } }]);
  const outcome = await busy.channel.send(QUARANTINED);
  assert.equal(outcome.delivered, false);
  assert.equal(outcome.attempts, 1);
  assert.match(outcome.error ?? '', /HTTP 503, retry after 3600 s is too long/);
});

test('webhook: a receiver that never answers times out per attempt', async () => {
  const { channel, waits } = channelFor(['hang'], { timeoutMs: 150, maxAttempts: 2 });
  const outcome = await channel.send(QUARANTINED);
  assert.deepEqual(outcome, {
    delivered: false,
    attempts: 2,
    error: 'no answer in time (timeout)',
  });
  assert.equal(received.length, 2);
  assert.equal(waits.length, 1);
  for (const response of hanging) response.destroy();
  hanging.clear();
});

test('webhook: a refused connection is a retried network error that names no secret', async () => {
  const closed = createServer();
  closed.listen(0, '127.0.0.1');
  await once(closed, 'listening');
  const port = (closed.address() as AddressInfo).port;
  closed.close();
  await once(closed, 'close');
  const { channel, waits } = channelFor([], { url: `http://127.0.0.1:${port}/`, maxAttempts: 2 });
  const outcome = await channel.send(QUARANTINED);
  assert.deepEqual(outcome, {
    delivered: false,
    attempts: 2,
    error: 'network error (ECONNREFUSED)',
  });
  assert.equal(waits.length, 1);
});

test('webhook: close() ends a backoff wait at once', async () => {
  received = [];
  answers = [{ status: 500 }];
  const channel = createWebhookChannel(
    { ...WEBHOOK_DEFAULTS, url, secret: SECRET },
    { random: () => 0.99 },
  );
  const sending = channel.send(QUARANTINED);
  await once(server, 'request');
  await channel.close();
  const outcome = await sending;
  assert.equal(outcome.delivered, false);
  assert.match(outcome.error ?? '', /closed/);
});

test('backoffDelayMs() is full jitter under min(cap, base · 2^(k−1))', () => {
  const options = { baseDelayMs: 1000, maxDelayMs: 30_000 };
  assert.equal(backoffDelayMs(1, { ...options, random: 0.999 }), 999);
  assert.equal(backoffDelayMs(4, { ...options, random: 0.5 }), 4000);
  assert.equal(backoffDelayMs(10, { ...options, random: 0.5 }), 15_000);
  assert.equal(backoffDelayMs(3, { ...options, random: 0 }), 0);
});

test('parseRetryAfter() reads seconds and HTTP dates', () => {
  assert.equal(parseRetryAfter('120', NOW_MS), 120_000);
  assert.equal(parseRetryAfter(new Date(NOW_MS + 5000).toUTCString(), NOW_MS), 5000);
  assert.equal(parseRetryAfter('soon', NOW_MS), undefined);
  assert.equal(parseRetryAfter(null, NOW_MS), undefined);
});

test('webhookConfigSchema names the key and the fix, and never repeats the secret', () => {
  const short = webhookConfigSchema.safeParse({
    url: 'ftp://x.example/',
    secret: 'hunter2',
    attempt: 3,
  });
  assert.ok(!short.success);
  const problems = problemsOf(short.error);
  assert.deepEqual(new Set(problems.map((p) => p.path)), new Set(['url', 'secret', 'attempt']));
  assert.ok(problems.every((p) => !p.message.includes('hunter2')));
  assert.ok(
    problems.some((p) => p.path === 'secret' && p.message.includes('openssl rand -hex 32')),
  );
  assert.ok(
    problems.some((p) => p.path === 'attempt' && p.message.includes('did you mean "attempts"')),
  );
  const withCredentials = webhookConfigSchema.safeParse({
    url: 'https://u:pw@hooks.example/',
    secret: SECRET,
  });
  assert.ok(!withCredentials.success);
  assert.ok(problemsOf(withCredentials.error).every((p) => !p.message.includes('pw@')));
  assert.deepEqual(
    webhookConfigSchema.parse({ url: 'https://hooks.example.net/t', secret: SECRET }),
    {
      url: 'https://hooks.example.net/t',
      secret: SECRET,
      ...WEBHOOK_DEFAULTS,
    },
  );
});
