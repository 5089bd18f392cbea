import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import fc from 'fast-check';
import { PROTOCOL_ERROR_CODES, encodeRequest, type Request } from '../protocol/index.ts';
import { COLLECTOR_ADDRESS, NOW_MS, certificateBytes, identifiedRequest, privateRequest, requestBytes, testBundle } from '../testing/collector-fixture.ts';
import { frameArbitrary, requestArbitrary } from '../testing/message-arbitrary.ts';
import { anyMutation, applyMutations } from '../testing/mutation.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { COLLECTOR_DROP_CODES, createCollectorState, onDatagram, type CollectorState, type Effect } from './core.ts';

let states: CollectorState[];
let seeds: Uint8Array[];

before(() => {
  const base = { operator: 'Example ISP', key: TRUST_KEYS.collector, certificate: certificateBytes(), feed: testBundle() };
  states = [
    // Generous limits, so that most inputs reach matching and signing.
    createCollectorState({ ...base, rateLimit: { ratePerSecond: 1e6, burst: 1e6 } }),
    // Tight limits with slip, and notify on.
    createCollectorState({ ...base, rateLimit: { ratePerSecond: 1, burst: 2, slip: 2, maxEntries: 64 }, notify: true }),
  ];
  const requests: Request[] = [
    identifiedRequest(),
    identifiedRequest({ quarantined: true, swVersion: { version: '2.1' } }),
    identifiedRequest({ vendor: 'hikvision', model: 'ds2cd2032i' }),
    privateRequest(),
    privateRequest(1),
    { kind: 'certificate', kid: TRUST_KEYS.collector.publicKey.kid },
    { kind: 'root', version: 1 },
  ];
  seeds = requests.map((r) => requestBytes(r));
});

const KNOWN_DROPS = new Set<string>([...PROTOCOL_ERROR_CODES, ...COLLECTOR_DROP_CODES]);

function checkEffects(effects: readonly Effect[], request: Uint8Array): void {
  const replies = effects.filter((e) => e.kind === 'reply');
  const drops = effects.filter((e) => e.kind === 'drop');
  assert.ok(replies.length + drops.length === 1, 'exactly one outcome: one reply or one drop');
  for (const r of replies) assert.ok(r.bytes.byteLength <= request.byteLength, `answer ${r.bytes.byteLength} > request ${request.byteLength}`);
  for (const d of drops) assert.ok(KNOWN_DROPS.has(d.code), d.code);
}

const address = fc.oneof(
  fc.constant(Uint8Array.from([192, 0, 2, 7])),
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);

const datagram = fc.oneof(
  // Random bytes, mostly of the one length that gets past the first check.
  fc.oneof(fc.uint8Array({ minLength: 1232, maxLength: 1232 }), fc.uint8Array({ maxLength: 1300 })),
  // Mutations of valid requests of every kind.
  fc.tuple(fc.nat(), fc.array(anyMutation, { minLength: 1, maxLength: 4 })).map(([i, mutations]) => applyMutations(seeds[i % seeds.length] ?? new Uint8Array(0), mutations)),
  // Valid requests with arbitrary content.
  fc.tuple(requestArbitrary, frameArbitrary).map(([request, frame]) => {
    try {
      return encodeRequest(request, frame);
    } catch {
      return new Uint8Array(1232); // a body over 953 bytes: the encoder refuses it
    }
  }),
);

test('onDatagram() over 12,000 random, mutated and valid datagrams: never throws, at most one answer, never larger than the request', () => {
  let t = NOW_MS;
  const seen = { reply: 0, drop: 0 };
  fc.assert(
    fc.property(datagram, address, fc.nat({ max: 1 }), fc.nat({ max: 5_000 }), (bytes, source, which, stepMs) => {
      t += stepMs;
      const state = states[which];
      assert.ok(state !== undefined);
      const effects = onDatagram(state, { bytes, source: { address: source, port: 1 }, destination: { address: COLLECTOR_ADDRESS, port: 5683 } }, t);
      checkEffects(effects, bytes);
      for (const e of effects) if (e.kind === 'reply' || e.kind === 'drop') seen[e.kind]++;
    }),
    { numRuns: 12_000 },
  );
  // Both paths were exercised, not only the cheap refusals.
  assert.ok(seen.reply > 500 && seen.drop > 500, JSON.stringify(seen));
  // The tight limiter stayed within its bound throughout.
  assert.ok((states[1]?.limiter.size ?? 0) <= 64);
});
