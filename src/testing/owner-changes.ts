/**
 * Status changes for the owner-notification tests: a D-Link DIR-859 quarantined for
 * CVE-2019-17621 (in CISA KEV), and the other statuses derived from it.
 * @module
 */
import type { OwnerStatus, StatusChange } from '../owner/types.ts';

/** The quarantined DIR-859 of the examples in docs/owner-notifications.md. */
export const QUARANTINED_STATUS: OwnerStatus = {
  status: 'quarantined',
  since: '2026-11-26T06:00:00.000Z',
  device: { vendor: 'D-Link', model: 'DIR-859', softwareVersion: '1.05B03' },
  advisories: [{ id: 'CVE-2019-17621', cvss: 9.8, exploited: true }],
  fixedVersions: ['1.06'],
  updateHosts: ['support.dlink.com'],
  mode: 'private',
};

/** clear → quarantined on an accepted FAIL. */
export const QUARANTINED: StatusChange = {
  previous: 'clear',
  current: QUARANTINED_STATUS,
  at: '2026-11-26T06:00:00.000Z',
  reason: 'FAIL accepted',
};

/** quarantined → clear after the fixed firmware was announced. */
export const FIXED: StatusChange = {
  previous: 'quarantined',
  current: {
    ...QUARANTINED_STATUS,
    status: 'clear',
    since: '2026-11-27T08:30:00.000Z',
    device: { ...QUARANTINED_STATUS.device, softwareVersion: '1.06B01' },
    advisories: [],
    fixedVersions: [],
    updateHosts: [],
  },
  at: '2026-11-27T08:30:00.000Z',
  reason: 'fixed version announced',
};

/** quarantined → overridden by the owner. */
export const OVERRIDDEN: StatusChange = {
  previous: 'quarantined',
  current: {
    ...QUARANTINED_STATUS,
    status: 'overridden',
    override: { reason: 'needed for the weekend', until: '2026-11-28T06:00:00.000Z' },
  },
  at: '2026-11-26T07:00:00.000Z',
  reason: 'owner override',
};

/** A change with a given status and the DIR-859's findings (for tables of every status). */
export function changeTo(
  status: OwnerStatus['status'],
  previous: OwnerStatus['status'] = 'clear',
): StatusChange {
  return { ...QUARANTINED, previous, current: { ...QUARANTINED_STATUS, status } };
}
