/**
 * CISA Known Exploited Vulnerabilities catalog (JSON schema known_exploited_vulnerabilities_schema.json
 * of github.com/cisagov/kev-data): the header fields and one `$.vulnerabilities[*]` element.
 * @module
 */
import { asCveId, asIsoDate, asObject, asString, type RecordLocation } from './record-fields.ts';
import type { KevEntry } from './types.ts';

/** The catalog fields the store keeps as provenance. */
export interface KevHeader {
  /** `catalogVersion`, e.g. `2025.02.25`. */
  readonly catalogVersion: string;
  /** `dateReleased`, an ISO 8601 date-time. */
  readonly dateReleased: string;
}

/**
 * Parses the catalog header (the top-level object, with or without `vulnerabilities`). Throws
 * `FeedError('BAD_RECORD')` naming the field when `catalogVersion` or `dateReleased` is missing or bad.
 * @example parseKevHeader({ catalogVersion: '2025.02.25', dateReleased: '2025-02-25T20:33:53.3676Z' }, where)
 */
export function parseKevHeader(value: unknown, where: RecordLocation): KevHeader {
  const header = asObject(value, where, '$');
  return {
    catalogVersion: asString(header.catalogVersion, where, '$.catalogVersion'),
    dateReleased: asIsoDate(header.dateReleased, where, '$.dateReleased'),
  };
}

/**
 * Parses one catalog entry. `where.record` is its JSON path (`$.vulnerabilities[12]`). Throws
 * `FeedError('BAD_RECORD')` when `cveID` is not a CVE id or `dateAdded` is not an ISO date; other
 * fields (vendorProject, product, notes …) are descriptive and not kept.
 * @example parseKevEntry({ cveID: 'CVE-2024-3273', dateAdded: '2024-04-11' }, where).cve === 'CVE-2024-3273'
 */
export function parseKevEntry(value: unknown, where: RecordLocation): KevEntry {
  const entry = asObject(value, where, where.record);
  return {
    cve: asCveId(entry.cveID, where, `${where.record}.cveID`),
    dateAdded: asIsoDate(entry.dateAdded, where, `${where.record}.dateAdded`),
  };
}
