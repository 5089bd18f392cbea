/**
 * The collector's operations surface, live: /metrics counts exactly what was sent over real UDP,
 * /healthz turns 503 when the feed expires, the listener refuses what it does not serve, and
 * the log sink writes structured lines.
 * @module
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogSink } from '../logging/log.ts';
import { FEED_EXPIRES, NOW_MS, identifiedRequest, privateRequest, requestBytes } from '../testing/collector-fixture.ts';
import { startLiveCollector, type LiveCollector } from '../testing/live-collector.ts';
import { hasSample, parseExposition, sampleSum } from '../testing/prometheus.ts';

let live: LiveCollector | undefined;
let clockMs = NOW_MS;

function running(): LiveCollector & { ops: string } {
  assert.ok(live !== undefined, 'collector started');
  const ops = live.collector.opsAddress();
  assert.ok(ops !== undefined, 'metrics listener configured');
  return Object.assign(live, { ops: `http://127.0.0.1:${ops.port}` });
}

before(async () => {
  live = await startLiveCollector({ extraYaml: ['metrics: {address: 127.0.0.1, port: 0}'], deps: { now: () => clockMs } });
});

after(async () => {
  await live?.close();
});

/** Sends `bytes` and resolves once the collector has handled it (answered or not). */
async function sendHandled(bytes: Uint8Array): Promise<void> {
  await running().sendHandled(bytes);
}

async function scrape(): Promise<ReturnType<typeof parseExposition>> {
  const response = await fetch(`${running().ops}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

test('/metrics counts what the collector received, answered, dropped and signed', async () => {
  const requests = [
    requestBytes(identifiedRequest()), // FAIL, signed
    requestBytes(identifiedRequest()), // FAIL, signed
    requestBytes(identifiedRequest({ swVersion: { version: '2.1' } })), // PASS, unsigned
    requestBytes(identifiedRequest({ model: 'dir860l' })), // UNKNOWN, unlisted model
    requestBytes(privateRequest()), // private: the policy document is signed once
    new Uint8Array(40), // BAD_LENGTH
  ];
  for (const bytes of requests) await sendHandled(bytes);
  const samples = await scrape();
  const m = (name: string, labels: Record<string, string> = {}): number => sampleSum(samples, `tattler_${name}`, labels);
  assert.equal(m('datagrams_received_total'), requests.length);
  assert.equal(m('received_bytes_total'), 5 * 1232 + 40);
  assert.ok(m('sent_bytes_total') > 0 && m('sent_bytes_total') <= 5 * 1232);
  assert.equal(m('verdicts_total', { status: 'fail' }), 2);
  assert.equal(m('verdicts_total', { status: 'pass' }), 1);
  assert.equal(m('verdicts_total', { status: 'unknown' }), 1);
  assert.equal(m('identified_total', { vendor: 'dlink', model: 'dir859', status: 'fail' }), 2);
  assert.equal(m('identified_total', { vendor: '(unlisted)', model: '(unlisted)' }), 1, 'an unlisted model is never a label');
  assert.equal(m('private_total'), 1);
  assert.equal(m('requests_total', { kind: 'identified' }), 4);
  assert.equal(m('requests_total', { kind: 'private' }), 1);
  assert.equal(m('answers_total', { kind: 'verdict' }), 2);
  assert.equal(m('answers_total', { kind: 'unsigned-verdict' }), 2);
  assert.equal(m('answers_total', { kind: 'private' }), 1);
  assert.equal(m('drops_total', { reason: 'BAD_LENGTH' }), 1);
  assert.equal(m('signatures_total'), 3, 'two verdicts and one policy document');
  assert.equal(m('decision_seconds_count'), requests.length);
  assert.equal(m('decision_seconds_bucket', { le: '+Inf' }), requests.length);
  assert.ok(m('decision_seconds_sum') > 0);
  assert.equal(m('feed_version'), 42);
  assert.equal(m('feed_expiry_timestamp_seconds'), FEED_EXPIRES);
  assert.equal(m('feed_age_seconds'), 3_600 + Math.floor((clockMs - NOW_MS) / 1000));
  assert.ok(m('certificate_expiry_timestamp_seconds') > NOW_MS / 1000);
  assert.ok(hasSample(samples, 'tattler_notify_rows'));
  assert.equal(m('notify_rows'), 0, 'notify is off: nothing stored');
  assert.ok(m('process_resident_memory_bytes') > 0, 'process metrics are exported');
  // No label anywhere carries an address.
  for (const s of samples) for (const v of Object.values(s.labels)) assert.doesNotMatch(v, /^127\.|::1/);
});

test('/healthz is 200 while FAILs can be signed, 503 naming what expired afterwards', async () => {
  const ok = await fetch(`${running().ops}/healthz`);
  assert.equal(ok.status, 200);
  const health = (await ok.json()) as { status: string; feedVersion: number; problems: string[] };
  assert.deepEqual([health.status, health.feedVersion, health.problems], ['ok', 42, []]);
  const certificateExpiry = sampleSum(await scrape(), 'tattler_certificate_expiry_timestamp_seconds');
  const expectations: [number, string[]][] = [
    [certificateExpiry, ['CERTIFICATE_EXPIRED']],
    [FEED_EXPIRES, ['FEED_EXPIRED', 'CERTIFICATE_EXPIRED']],
  ];
  try {
    for (const [atSeconds, problems] of expectations) {
      clockMs = atSeconds * 1000;
      const degraded = await fetch(`${running().ops}/healthz`);
      assert.equal(degraded.status, 503);
      const body = (await degraded.json()) as { status: string; problems: string[] };
      assert.deepEqual([body.status, body.problems], ['degraded', problems]);
    }
  } finally {
    clockMs = NOW_MS;
  }
});

test('the operations listener answers only GET /metrics and /healthz', async () => {
  const { ops } = running();
  const post = await fetch(`${ops}/metrics`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const missing = await fetch(`${ops}/admin`);
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), 'not found: try /metrics or /healthz\n');
  assert.equal(missing.headers.get('access-control-allow-origin'), null, 'no CORS');
});

test('createLogSink() writes one JSON object per event (pino) or one plain line, and honours the level', () => {
  const lines: string[] = [];
  const json = createLogSink({ format: 'json', name: 'tattler-collector', level: 'info', base: { worker: 2 }, write: (l) => lines.push(l) });
  json('debug', 'noise', 'not written');
  json('warn', 'feed_kept', 'feed not updated', { feedVersion: 42 });
  assert.equal(lines.length, 1);
  const event = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  assert.equal(event.level, 40);
  assert.equal(event.event, 'feed_kept');
  assert.equal(event.msg, 'feed not updated');
  assert.equal(event.feedVersion, 42);
  assert.equal(event.worker, 2);
  assert.equal(event.name, 'tattler-collector');
  assert.match(String(event.time), /^\d{4}-\d\d-\d\dT/);
  const text: string[] = [];
  const plain = createLogSink({ format: 'text', name: 'tattler-collector', write: (l) => text.push(l) });
  plain('info', 'reloaded', 'reloaded collector.yaml', { feedVersion: 42, file: 'a b' });
  plain('error', 'socket_error', 'socket 127.0.0.1: boom');
  assert.deepEqual(text, ['tattler-collector: reloaded collector.yaml feedVersion=42 file="a b"\n', 'tattler-collector: error: socket 127.0.0.1: boom\n']);
});
