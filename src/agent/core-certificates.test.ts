import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRequest, formatIp } from '../protocol/index.ts';
import {
  AgentSim,
  NETWORK_UP,
  agentConfig,
  certificateAnswer,
  collectorAnswer,
  effectsOf,
  sendsOf,
  testCollector,
} from '../testing/agent-fixture.ts';
import { NOW, certificateBytes } from '../testing/collector-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import type { AgentEffect } from './core.ts';
import { decodeState, encodeState } from './state.ts';

type Send = Extract<AgentEffect, { kind: 'send' }>;

/** An agent without any configured certificate, refused its first FAIL: returns the certificate query. */
function refusedForCertificate(sim: AgentSim): { query: Send; announcements: Send[] } {
  sim.step(NETWORK_UP);
  const announcements = sendsOf(
    sim.advanceTo(sim.state.timers.announce ?? Number.POSITIVE_INFINITY),
  );
  const [v6] = announcements;
  assert.ok(v6 !== undefined);
  const effects = sim.step(collectorAnswer(testCollector(), v6));
  assert.deepEqual(
    effectsOf(effects, 'log').map((l) => l.code),
    ['NO_CERTIFICATE', 'CERTIFICATE_QUERY'],
  );
  assert.equal(effectsOf(effects, 'quarantine').length, 0);
  const [query] = sendsOf(effects);
  assert.ok(query !== undefined);
  return { query, announcements };
}

function uncertifiedAgent(): AgentSim {
  return new AgentSim({ config: agentConfig({ certificates: [] }) });
}

test('onEvent() asks the answering collector for a missing certificate, keeps it, and then obeys the FAIL', () => {
  const sim = uncertifiedAgent();
  const { query, announcements } = refusedForCertificate(sim);
  const decoded = decodeRequest(query.bytes);
  assert.ok(decoded.request.kind === 'certificate');
  assert.deepEqual(decoded.request.kid, TRUST_KEYS.collector.publicKey.kid);
  assert.equal(
    formatIp(query.to.address),
    formatIp(announcements[0]?.to.address ?? new Uint8Array(0)),
  );
  assert.equal(query.bytes.byteLength, 1232);
  // The real collector core serves its certificate; the held FAIL is decided again.
  const effects = sim.step(collectorAnswer(testCollector(), query));
  assert.equal(effects[0]?.kind, 'quarantine');
  const codes = effectsOf(effects, 'log').map((l) => l.code);
  assert.deepEqual(codes, ['CERTIFICATE_KEPT', 'ACCEPTED']);
  assert.equal(sim.state.status, 'quarantined');
  // Certificate answer 1, then the FAIL: verdict 1, certificate 0 (verified already), record 1.
  assert.equal(sim.state.exchange?.signatureChecksUsed, 3);
  const persisted = effectsOf(effects, 'persist')[0]?.state;
  assert.equal(persisted?.certificates?.length, 1);
  assert.equal(persisted.fail?.advisories[0], 'CVE-2019-17621');
});

test('onEvent() sends one certificate query per kid and window, however many answers need it', () => {
  const sim = uncertifiedAgent();
  const { announcements } = refusedForCertificate(sim);
  const v4 = announcements[1];
  assert.ok(v4 !== undefined);
  const effects = sim.step(collectorAnswer(testCollector(), v4));
  assert.deepEqual(
    effectsOf(effects, 'log').map((l) => l.code),
    ['NO_CERTIFICATE'],
  );
  assert.equal(sendsOf(effects).length, 0);
  assert.equal(sim.state.exchange?.held.length, 1);
});

test('onEvent() refuses a forged, expired or other-key certificate answer: logged, nothing kept, no quarantine', () => {
  const cases = [
    ['signed by an attacker key', { issuer: TRUST_KEYS.attacker }, 'CERT_ISSUER_UNKNOWN'],
    ['bad signature', { tamper: true }, 'CERT_BAD_SIGNATURE'],
    ['expired', { notBefore: NOW - 8 * 86_400, notAfter: NOW - 86_400 }, 'CERT_EXPIRED'],
    ['for another key', { subject: TRUST_KEYS.attacker }, 'CERT_KID_MISMATCH'],
  ] as const;
  for (const [name, options, code] of cases) {
    const sim = uncertifiedAgent();
    const { query } = refusedForCertificate(sim);
    const effects = sim.step(certificateAnswer(query, certificateBytes(options)));
    assert.deepEqual(
      effectsOf(effects, 'log').map((l) => l.code),
      [code],
      name,
    );
    assert.equal(sendsOf(effects).length, 0, name);
    assert.equal(effectsOf(sim.log, 'quarantine').length, 0, name);
    assert.deepEqual(sim.state.certificates, [], name);
    assert.deepEqual(sim.state.exchange?.refusals, { NO_CERTIFICATE: 1, [code]: 1 }, name);
    // The genuine certificate, arriving after the forgery, is still kept and obeyed.
    const genuine = sim.step(collectorAnswer(testCollector(), query));
    assert.equal(genuine[0]?.kind, 'quarantine', name);
  }
});

test('onEvent() refuses a certificate answer to no query, from another address, or after the window', () => {
  const sim = uncertifiedAgent();
  const { query } = refusedForCertificate(sim);
  const answer = certificateAnswer(query, certificateBytes());
  const elsewhere = { ...answer, from: { address: new Uint8Array(16).fill(9), port: 5683 } };
  assert.deepEqual(
    effectsOf(sim.step(elsewhere), 'log').map((l) => l.code),
    ['WRONG_SOURCE'],
  );
  sim.nowMs = sim.state.exchange?.book.closesAtMs ?? sim.nowMs;
  assert.deepEqual(
    effectsOf(sim.step(answer), 'log').map((l) => l.code),
    ['WINDOW_CLOSED'],
  );
  assert.equal(effectsOf(sim.log, 'quarantine').length, 0);
});

test('createAgent() keeps a fetched certificate across a restart: the next FAIL needs no query', () => {
  const sim = uncertifiedAgent();
  const { query } = refusedForCertificate(sim);
  sim.step(collectorAnswer(testCollector(), query));
  const written = effectsOf(sim.log, 'persist').at(-1)?.state;
  assert.ok(written?.certificates?.length === 1);
  // Through the state file's codec, as the shell writes and reads it.
  const persisted = decodeState(encodeState(written));
  assert.throws(
    () => decodeState(encodeState({ ...written, certificates: ['XYZ'] })),
    /state.certificates\[0\]/,
  );
  const rebooted = new AgentSim({ config: agentConfig({ certificates: [] }), persisted });
  assert.equal(rebooted.state.certificates.length, 1);
  assert.equal(rebooted.first[0]?.kind, 'quarantine');
  rebooted.step(NETWORK_UP);
  const [v6] = sendsOf(
    rebooted.advanceTo(rebooted.state.timers.announce ?? Number.POSITIVE_INFINITY),
  );
  assert.ok(v6 !== undefined);
  const effects = rebooted.step(collectorAnswer(testCollector(), v6));
  assert.deepEqual(
    effectsOf(effects, 'log').map((l) => l.code),
    ['ACCEPTED'],
  );
  assert.equal(sendsOf(effects).length, 0);
  assert.equal(rebooted.state.status, 'quarantined');
});

test('createAgent() drops a kept certificate that does not decode and says so', () => {
  const sim = new AgentSim({
    config: agentConfig(),
    persisted: { version: 1, timeFloorSeconds: NOW, unanswered: 0, certificates: ['d28400'] },
  });
  assert.deepEqual(sim.state.certificates, []);
  assert.ok(effectsOf(sim.first, 'log').some((l) => l.code === 'BAD_STATE_CERTIFICATE'));
});
