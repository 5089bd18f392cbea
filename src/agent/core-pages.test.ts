import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest } from '../protocol/index.ts';
import {
  AgentSim,
  NETWORK_UP,
  agentConfig,
  bucketPages,
  effectsOf,
  pageAnswer,
  persistedFail,
  sendsOf,
} from '../testing/agent-fixture.ts';
import { COLLECTOR_ADDRESS } from '../testing/trust-fixture.ts';
import type { AgentConfig, AgentEffect } from './core.ts';

type Send = Extract<AgentEffect, { kind: 'send' }>;

function privateConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  return agentConfig({
    mode: 'private',
    collectors: [{ address: COLLECTOR_ADDRESS, port: 5683 }],
    ...overrides,
  });
}

/** Runs to the first announcement and returns its one send (page 0). */
function announce(sim: AgentSim): Send {
  sim.step(NETWORK_UP);
  const [send] = sendsOf(sim.advanceTo(sim.state.timers.announce ?? Number.POSITIVE_INFINITY));
  assert.ok(send !== undefined);
  return send;
}

function pageOf(send: Send): number {
  const { request } = decodeRequest(send.bytes);
  assert.ok(request.kind === 'private');
  return request.page;
}

test('onEvent() fetches every page of a multi-page bucket and quarantines for an entry on page 1', () => {
  const pages = bucketPages({ pages: 2, devicePage: 1 });
  const sim = new AgentSim({ config: privateConfig() });
  const first = announce(sim);
  const effects = sim.step(pageAnswer(first, pages));
  // Page 0 says PASS for this device, which decides nothing: page 1 is asked for.
  assert.deepEqual(
    effectsOf(effects, 'log').map((l) => l.code),
    ['BUCKET_PAGE'],
  );
  assert.equal(sim.state.exchange?.accepted, undefined);
  const [request] = sendsOf(effects);
  assert.ok(request !== undefined);
  assert.equal(pageOf(request), 1);
  assert.equal(request.bytes.byteLength, 1232);
  const decided = sim.step(pageAnswer(request, pages));
  assert.deepEqual(decided[0], {
    kind: 'quarantine',
    hosts: { addresses: ['2001:db8:ffff::1'], names: ['update.example.net'] },
    advisories: ['CVE-2019-17621'],
  });
  // [P-8.6-2] policy and certificate once, each page once: 4 of the 16.
  assert.equal(sim.state.exchange?.signatureChecksUsed, 4);
});

test('onEvent() quarantines at once for an entry on page 0: a FAIL page needs no other page', () => {
  const pages = bucketPages({ pages: 3, devicePage: 0 });
  const sim = new AgentSim({ config: privateConfig() });
  const effects = sim.step(pageAnswer(announce(sim), pages));
  assert.equal(effects[0]?.kind, 'quarantine');
  assert.equal(sendsOf(effects).length, 0);
});

test('onEvent() takes no decision on an incomplete bucket: a missing page neither lifts nor quarantines', () => {
  for (const complete of [false, true]) {
    const sim = new AgentSim({
      config: privateConfig({ device: { ...agentConfig().device, swVersion: '2.01' } }),
      persisted: persistedFail(),
    });
    assert.equal(sim.state.status, 'quarantined');
    const pages = bucketPages({ pages: 2 });
    const [request] = sendsOf(sim.step(pageAnswer(announce(sim), pages)));
    assert.ok(request !== undefined);
    if (!complete) {
      // The collector never answers page 1; retries ask for page 1 again, never page 0.
      const closing = sim.advanceBy(30_000);
      assert.ok(sendsOf(closing).length > 0);
      assert.ok(sendsOf(closing).every((s) => pageOf(s) === 1));
      assert.ok(effectsOf(closing, 'log').some((l) => l.code === 'PARTIAL_BUCKET'));
      assert.equal(effectsOf(sim.log, 'lift').length, 0);
      assert.equal(sim.state.status, 'quarantined');
      assert.equal(sim.state.lastExchange?.outcome, 'unanswered');
    } else {
      const effects = sim.step(pageAnswer(request, pages));
      assert.deepEqual(effects[0], { kind: 'lift', reason: 'fixed' });
    }
  }
});

test('onEvent() keeps pages of two feed versions apart and decides on the first complete set', () => {
  const v42 = bucketPages({ pages: 2, devicePage: 1, feedVersion: 42 });
  const v43 = bucketPages({ pages: 2, feedVersion: 43 });
  const sim = new AgentSim({ config: privateConfig() });
  const [request] = sendsOf(sim.step(pageAnswer(announce(sim), v42)));
  assert.ok(request !== undefined);
  // Page 1 of another feed version does not complete feed 42's set (its entries may have moved).
  const mixed = sim.step(pageAnswer(request, v43));
  assert.equal(effectsOf(mixed, 'quarantine').length, 0);
  assert.deepEqual(
    sim.state.exchange?.buckets.map((b) => [b.feedVersion, b.accepted.length]),
    [
      [42, 1],
      [43, 1],
    ],
  );
  assert.equal(sim.state.exchange.accepted, undefined);
  const decided = sim.step(pageAnswer(request, v42));
  assert.equal(decided[0]?.kind, 'quarantine');
});

test('onEvent() records a duplicate page once and never asks for a page twice in one attempt', () => {
  const pages = bucketPages({ pages: 3 });
  const sim = new AgentSim({ config: privateConfig() });
  const first = announce(sim);
  const requests = sendsOf(sim.step(pageAnswer(first, pages)));
  assert.deepEqual(requests.map(pageOf), [1, 2]);
  const again = sim.step(pageAnswer(first, pages));
  assert.deepEqual(
    effectsOf(again, 'log').map((l) => l.code),
    ['DUPLICATE'],
  );
  assert.equal(sendsOf(again).length, 0);
  for (const r of requests) sim.step(pageAnswer(r, pages));
  assert.equal(sim.state.exchange?.accepted?.status, 'pass');
  // Three pages: policy, certificate, three pages; the duplicate page 0 cost nothing.
  assert.equal(sim.state.exchange.signatureChecksUsed, 5);
});
