/**
 * Which version of a source record is newer: the rule the store applies when the same record is
 * imported again (an older file never overwrites newer data). Pure: strings in, a decision out.
 * @module
 */
import type { FeedSource } from './types.ts';

/** The version of one source record as the store keeps it. */
export interface RecordVersion {
  /** Shown to people: KEV catalogVersion, NVD/OSV modified time, CSAF tracking.version; null if none. */
  readonly catalogVersion: string | null;
  /** Comparable time of the record's last change (ISO 8601), or null when the source gives none. */
  readonly modified: string | null;
}

/** A record with neither a version nor a modification time. */
export const UNVERSIONED: RecordVersion = Object.freeze({ catalogVersion: null, modified: null });

function textAt(value: unknown, path: readonly string[]): string | null {
  let at: unknown = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null || Array.isArray(at)) return null;
    at = (at as Readonly<Record<string, unknown>>)[key];
  }
  return typeof at === 'string' && at.length > 0 && at.length <= 64 ? at : null;
}

/**
 * The version fields of a raw source record, read defensively (a missing or odd field gives null;
 * the record's own parser reports real problems): NVD `lastModified` of the CVE object, OSV
 * `modified`, CSAF `document.tracking` (`version`, `current_release_date`).
 * @example recordVersionOf('osv', { modified: '2024-01-02T00:00:00Z' }).modified === '2024-01-02T00:00:00Z'
 */
export function recordVersionOf(source: Exclude<FeedSource, 'kev'>, raw: unknown): RecordVersion {
  switch (source) {
    case 'nvd': {
      const modified = textAt(raw, ['lastModified']);
      return { catalogVersion: modified, modified };
    }
    case 'osv': {
      const modified = textAt(raw, ['modified']);
      return { catalogVersion: modified, modified };
    }
    case 'csaf':
      return {
        catalogVersion: textAt(raw, ['document', 'tracking', 'version']),
        modified: textAt(raw, ['document', 'tracking', 'current_release_date']),
      };
  }
}

/** Epoch milliseconds of an ISO 8601 time; a time without a zone (NVD writes those) is UTC. */
function timeOf(iso: string): number {
  const zoned = /(?:Z|[+-]\d\d:?\d\d)$/i.test(iso) || !iso.includes('T') ? iso : `${iso}Z`;
  return Date.parse(zoned);
}

/**
 * True when `incoming` is provably older than `stored`: both have a modification time and the
 * incoming one is earlier. Equal times replace (re-importing the same file is idempotent), and a
 * record without a time replaces, since nothing says it is older.
 * @example isOlderRecord({ catalogVersion: null, modified: '2024-01-01' }, { catalogVersion: null, modified: '2024-02-01' }) === true
 */
export function isOlderRecord(incoming: RecordVersion, stored: RecordVersion): boolean {
  if (incoming.modified === null || stored.modified === null) return false;
  const a = timeOf(incoming.modified);
  const b = timeOf(stored.modified);
  // Unparsable times fall back to text order, which is time order for same-format ISO strings.
  if (Number.isNaN(a) || Number.isNaN(b)) return incoming.modified < stored.modified;
  return a < b;
}
