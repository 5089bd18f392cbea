import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FIXED,
  OVERRIDDEN,
  QUARANTINED,
  QUARANTINED_STATUS,
  changeTo,
} from '../testing/owner-changes.ts';
import {
  describeRemedy,
  formatDeviceName,
  formatHeadline,
  formatOwnerMessage,
  formatSummary,
  formatTime,
  isProblem,
} from './texts.ts';
import type { OwnerStatusKind } from './types.ts';

const EVERY_STATUS: OwnerStatusKind[] = [
  'clear',
  'quarantined',
  'overridden',
  'would-quarantine',
  'off',
  'starting',
];

test('formatSummary() says what was found, what still works and what to do, for a quarantine', () => {
  assert.equal(
    formatSummary(QUARANTINED),
    'Tattler found that this D-Link DIR-859 (firmware 1.05B03) has a security flaw that attackers are ' +
      'exploiting (CVE-2019-17621, severity 9.8 of 10). To protect your network, it can now only reach ' +
      "your home network and its vendor's update server. Update its firmware to 1.06 or later: " +
      'https://support.dlink.com/',
  );
});

test('formatHeadline() names the device in the owner’s words', () => {
  assert.equal(
    formatHeadline(QUARANTINED),
    'Your D-Link DIR-859 has been isolated from the internet',
  );
  assert.equal(formatHeadline(FIXED), 'Your D-Link DIR-859 is back on the internet');
  assert.equal(
    formatHeadline(changeTo('clear', 'starting')),
    'Your D-Link DIR-859: no known security problem',
  );
  assert.match(
    formatHeadline(OVERRIDDEN),
    /back on the internet at your request, but still unsafe/,
  );
});

test('formatDeviceName() does not repeat a vendor the model already names', () => {
  assert.equal(
    formatDeviceName({
      vendor: 'Hikvision',
      model: 'Hikvision DS-2CD2032',
      softwareVersion: '5.4',
    }),
    'Hikvision DS-2CD2032',
  );
  assert.equal(formatDeviceName({ vendor: '', model: 'Cam', softwareVersion: '1' }), 'Cam');
});

test('describeRemedy() covers no fix, several fixed versions and no update host', () => {
  assert.match(
    describeRemedy({ ...QUARANTINED_STATUS, fixedVersions: [] }),
    /has not published a fixed firmware yet/,
  );
  assert.equal(
    describeRemedy({ ...QUARANTINED_STATUS, fixedVersions: ['1.06', '2.01'], updateHosts: [] }),
    "Update its firmware to one of these versions or later: 1.06, 2.01, from the vendor's website.",
  );
});

test('formatSummary() describes several advisories, exploited or not', () => {
  const change = changeTo('quarantined');
  const summary = formatSummary({
    ...change,
    current: {
      ...change.current,
      advisories: [
        { id: 'CVE-2019-17621', cvss: 9.8, exploited: false },
        { id: 'CVE-2019-20215', exploited: false },
      ],
    },
  });
  assert.match(
    summary,
    /has known security flaws \(CVE-2019-17621, severity 9\.8 of 10; CVE-2019-20215\)/,
  );
});

test('formatOwnerMessage() gives every status a subject and a body with what to do', () => {
  for (const status of EVERY_STATUS) {
    const message = formatOwnerMessage(changeTo(status));
    assert.ok(message.subject.includes('D-Link DIR-859'), status);
    assert.ok(message.body.endsWith('\n'), status);
    assert.doesNotMatch(message.body, /undefined|\[object/, status);
  }
  const quarantined = formatOwnerMessage(QUARANTINED).body;
  assert.match(quarantined, /What still works: devices in your home/);
  assert.match(quarantined, /override/);
  const overridden = formatOwnerMessage(OVERRIDDEN).body;
  assert.match(overridden, /because you chose to override Tattler \(until 2026-11-28 06:00 UTC\)/);
  assert.match(overridden, /Reason given for the override: needed for the weekend/);
  assert.match(formatOwnerMessage(FIXED).body, /no longer isolated \(fixed version announced\)/);
});

test('formatTime() writes UTC times for people and leaves other text alone', () => {
  assert.equal(formatTime('2026-11-26T06:00:00.000Z'), '2026-11-26 06:00 UTC');
  assert.equal(formatTime('2026-11-26T06:00Z'), '2026-11-26 06:00 UTC');
  assert.equal(formatTime('2026-11-26T07:00:00+01:00'), '2026-11-26T07:00:00+01:00');
});

test('isProblem() is true only while a FAIL is in force and not overridden', () => {
  assert.deepEqual(EVERY_STATUS.filter(isProblem), ['quarantined', 'would-quarantine']);
});
