import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentConfig } from './config.ts';
import type { AgentState } from './core.ts';
import { ownerStatusOf } from './owner-view.ts';

const SETTINGS = parseAgentConfig(
  [
    'device: {vendor: D-Link, model: DIR-859, software: {name: firmware, version: 1.05B03}}',
    'collectors: [{address: 192.0.2.53}]',
    'trust: {root: root.cbor}',
  ].join('\n'),
  '/etc/tattler/agent.yaml',
);
const FAIL: NonNullable<AgentState['fail']> = {
  mode: 'private',
  advisories: ['CVE-2019-17621'],
  remediationHosts: ['support.dlink.com'],
  swVersion: '1.05B03',
  endsAtMs: 600_000,
  checkpointSeconds: 600,
  cvss10: 98,
  kev: true,
  fixedVersions: ['1.06'],
  sinceSeconds: 1_795_672_800, // 2026-11-26T06:00:00Z
};
const CLOCK = {
  wallMs: Date.parse('2026-11-26T07:00:00Z'),
  monotonicMs: 100_000,
  statusSinceIso: '2026-11-26T06:30:00.000Z',
};

test('ownerStatusOf() shows a quarantine with the record facts and when it began', () => {
  assert.deepEqual(ownerStatusOf(SETTINGS, { status: 'quarantined', fail: FAIL }, CLOCK), {
    status: 'quarantined',
    since: '2026-11-26T06:00:00.000Z',
    device: { vendor: 'D-Link', model: 'DIR-859', softwareVersion: '1.05B03' },
    advisories: [{ id: 'CVE-2019-17621', cvss: 9.8, exploited: true }],
    fixedVersions: ['1.06'],
    updateHosts: ['support.dlink.com'],
    mode: 'private',
  });
});

test('ownerStatusOf() omits what the feed did not give (a bucket entry without a score, an older state file)', () => {
  const bare: NonNullable<AgentState['fail']> = {
    mode: FAIL.mode,
    advisories: FAIL.advisories,
    remediationHosts: FAIL.remediationHosts,
    swVersion: FAIL.swVersion,
    endsAtMs: FAIL.endsAtMs,
    checkpointSeconds: FAIL.checkpointSeconds,
  };
  const view = ownerStatusOf(SETTINGS, { status: 'quarantined', fail: bare }, CLOCK);
  assert.deepEqual(view.advisories, [{ id: 'CVE-2019-17621', exploited: false }]);
  assert.deepEqual(view.fixedVersions, []);
  assert.equal(view.since, CLOCK.statusSinceIso);
});

test('ownerStatusOf() shows an override with its end on the wall clock, and since the status changed', () => {
  const override = {
    reason: 'party tonight',
    advisories: ['CVE-2019-17621'],
    swVersion: '1.05B03',
    endsAtMs: 100_000 + 3_600_000,
  };
  const view = ownerStatusOf(SETTINGS, { status: 'overridden', fail: FAIL, override }, CLOCK);
  assert.equal(view.status, 'overridden');
  assert.deepEqual(view.override, { reason: 'party tonight', until: '2026-11-26T08:00:00.000Z' });
  assert.equal(view.since, CLOCK.statusSinceIso);
  const untilResumed = ownerStatusOf(
    SETTINGS,
    {
      status: 'overridden',
      fail: FAIL,
      override: {
        reason: override.reason,
        advisories: override.advisories,
        swVersion: override.swVersion,
      },
    },
    CLOCK,
  );
  assert.deepEqual(untilResumed.override, { reason: 'party tonight' });
});

test('ownerStatusOf() shows no advisories when clear or off, and no override unless overridden', () => {
  for (const status of ['clear', 'off'] as const) {
    const view = ownerStatusOf(SETTINGS, { status, fail: FAIL }, CLOCK);
    assert.deepEqual(
      [view.advisories, view.fixedVersions, view.updateHosts, view.override],
      [[], [], [], undefined],
    );
  }
  const stale = { reason: 'old', advisories: ['CVE-2000-0001'], swVersion: '1.05B03' };
  assert.equal(
    ownerStatusOf(SETTINGS, { status: 'quarantined', fail: FAIL, override: stale }, CLOCK).override,
    undefined,
  );
});
