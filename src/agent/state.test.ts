import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  MAX_STATE_BYTES,
  StateError,
  decodeState,
  encodeState,
  type PersistedState,
  type StateErrorCode,
} from './state.ts';

const FULL: PersistedState = {
  version: 1,
  timeFloorSeconds: 1_699_996_400,
  unanswered: 2,
  fail: {
    mode: 'identified',
    advisories: ['CVE-2019-17621'],
    remediationHosts: ['support.dlink.com'],
    swVersion: '1.05B03',
    remainingSeconds: 518_400,
  },
  override: {
    reason: 'camera needed for the party',
    advisories: ['CVE-2019-17621'],
    swVersion: '1.05B03',
    remainingSeconds: 3_600,
  },
  lastExchange: { outcome: 'unanswered', refusals: { BAD_SIGNATURE: 2, MALFORMED: 1 } },
};

const FAIL_ONLY = FULL.fail ?? assert.fail('FULL has a fail');

function codeOf(text: string): StateErrorCode | undefined {
  try {
    decodeState(text);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof StateError, String(err));
    return err.code;
  }
}

function edit(patch: Record<string, unknown>): string {
  return JSON.stringify({ ...FULL, ...patch });
}

test('decodeState() reads back what encodeState() wrote', () => {
  assert.deepEqual(decodeState(encodeState(FULL)), FULL);
  const minimal: PersistedState = { version: 1, timeFloorSeconds: 0, unanswered: 0 };
  assert.deepEqual(decodeState(encodeState(minimal)), minimal);
  const accepted: PersistedState = {
    ...minimal,
    lastExchange: { outcome: 'accepted', status: 'fail', scopeCheck: 'advisory', refusals: {} },
  };
  assert.deepEqual(decodeState(encodeState(accepted)), accepted);
});

test('decodeState() keeps the owner facts of a FAIL, and reads files written before them', () => {
  const withFacts: PersistedState = {
    ...FULL,
    fail: {
      ...FAIL_ONLY,
      cvss10: 98,
      kev: true,
      fixedVersions: ['1.06'],
      sinceSeconds: 1_795_672_800,
    },
  };
  assert.deepEqual(decodeState(encodeState(withFacts)), withFacts);
  // The shape of a state.json written before the owner's channels: no new keys.
  const older =
    '{"version":1,"timeFloorSeconds":5,"unanswered":0,"fail":{"mode":"private","advisories":["CVE-2019-17621"],"remediationHosts":[],"swVersion":"1.05B03","remainingSeconds":60}}';
  assert.deepEqual(decodeState(older).fail, {
    mode: 'private',
    advisories: ['CVE-2019-17621'],
    remediationHosts: [],
    swVersion: '1.05B03',
    remainingSeconds: 60,
  });
  for (const bad of [
    { cvss10: 101 },
    { kev: 'yes' },
    { fixedVersions: Array(9).fill('1') },
    { sinceSeconds: -1 },
  ])
    assert.equal(
      codeOf(edit({ fail: { ...FULL.fail, ...bad } })),
      'BAD_FIELD',
      JSON.stringify(bad),
    );
});

test('decodeState() refuses malformed state with a code', () => {
  const cases: [string, string, StateErrorCode][] = [
    ['not JSON', '{"version":1,', 'BAD_JSON'],
    ['too large', `{"version":1,"pad":"${'x'.repeat(MAX_STATE_BYTES)}"}`, 'TOO_LARGE'],
    ['not an object', '[1]', 'BAD_FIELD'],
    ['a newer version', edit({ version: 2 }), 'BAD_VERSION'],
    ['no version', JSON.stringify({ timeFloorSeconds: 0, unanswered: 0 }), 'BAD_VERSION'],
    ['an unknown key', edit({ extra: true }), 'BAD_FIELD'],
    ['a missing field', JSON.stringify({ version: 1, unanswered: 0 }), 'BAD_FIELD'],
    ['a negative floor', edit({ timeFloorSeconds: -1 }), 'BAD_FIELD'],
    ['a fractional floor', edit({ timeFloorSeconds: 1.5 }), 'BAD_FIELD'],
    ['a string counter', edit({ unanswered: '2' }), 'BAD_FIELD'],
    ['a bad mode', edit({ fail: { ...FULL.fail, mode: 'loud' } }), 'BAD_FIELD'],
    ['an empty advisory', edit({ fail: { ...FULL.fail, advisories: [''] } }), 'BAD_FIELD'],
    [
      'too many hosts',
      edit({ fail: { ...FULL.fail, remediationHosts: ['a', 'b', 'c', 'd', 'e'] } }),
      'BAD_FIELD',
    ],
    [
      'too many advisories',
      edit({
        fail: {
          ...FULL.fail,
          advisories: Array.from({ length: 65 }, (_, i) => `CVE-2020-${1000 + i}`),
        },
      }),
      'BAD_FIELD',
    ],
    [
      'a remaining lifetime over a year',
      edit({ fail: { ...FULL.fail, remainingSeconds: 400 * 86_400 } }),
      'BAD_FIELD',
    ],
    [
      'a control character in a reason',
      edit({ override: { ...FULL.override, reason: 'evil\u001b[2J' } }),
      'BAD_FIELD',
    ],
    [
      'a reason over 256 bytes',
      edit({ override: { ...FULL.override, reason: 'é'.repeat(129) } }),
      'BAD_FIELD',
    ],
    [
      'an unknown refusal code',
      edit({ lastExchange: { outcome: 'unanswered', refusals: { NOPE: 1 } } }),
      'BAD_FIELD',
    ],
    [
      'a bad status',
      edit({ lastExchange: { outcome: 'accepted', status: 'great', refusals: {} } }),
      'BAD_FIELD',
    ],
    ['an unknown key in fail', edit({ fail: { ...FULL.fail, enforced: true } }), 'BAD_FIELD'],
  ];
  for (const [name, text, code] of cases) assert.equal(codeOf(text), code, name);
});

test('decodeState() either returns a state or throws StateError for any input', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify({ ...FULL, fail: v })),
      ),
      (text) => {
        try {
          decodeState(text);
        } catch (err) {
          return err instanceof StateError;
        }
        return true;
      },
    ),
    { numRuns: 2_000 },
  );
});
