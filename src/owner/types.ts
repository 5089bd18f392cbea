/**
 * What the device's owner is told, on every channel (status page, syslog, webhook, MQTT, e-mail):
 * one plain-data view of the agent's state, built by the agent from its persisted state and the
 * signed feed record of the FAIL in force. Channels only render it; none decides anything.
 * @module
 */

/** The device's standing, as the owner sees it. */
export type OwnerStatusKind =
  /** Announced and nothing in force: full network access. */
  | 'clear'
  /** A signed, eligible FAIL is in force: only the LAN, DNS, the collector and update hosts work. */
  | 'quarantined'
  /** A FAIL is in force but the owner overrode it: full access, at the owner's risk. */
  | 'overridden'
  /** Enforcement is off: a FAIL was accepted but nothing was blocked. */
  | 'would-quarantine'
  /** Announcements are off (`mode: off`): the device checks nothing. */
  | 'off'
  /** No answer yet since start. */
  | 'starting';

/** One advisory of the FAIL in force, in the words the page shows. */
export interface OwnerAdvisory {
  /** `CVE-2019-17621`, `GHSA-…`, a vendor id. */
  readonly id: string;
  /** CVSS base score 0.0–10.0, when the feed knows it. */
  readonly cvss?: number;
  /** Listed in CISA's Known Exploited Vulnerabilities: attacked in the wild. */
  readonly exploited: boolean;
}

/** The view every channel renders. */
export interface OwnerStatus {
  readonly status: OwnerStatusKind;
  /** When the current status began, ISO 8601, when the device knows the time; else absent. */
  readonly since?: string;
  readonly device: {
    readonly vendor: string;
    readonly model: string;
    readonly softwareVersion: string;
  };
  /** The advisories of the FAIL in force (empty when clear or off). */
  readonly advisories: readonly OwnerAdvisory[];
  /** Versions the vendor says fix it, from the signed record (may be empty: no fix known). */
  readonly fixedVersions: readonly string[];
  /** The vendor's update hosts from the signed record (the page links to https://HOST/). */
  readonly updateHosts: readonly string[];
  /** The owner's override in force, if any. */
  readonly override?: { readonly reason: string; readonly until?: string };
  /** The announcement mode: `private` (default), `identified`, `off`. */
  readonly mode: 'private' | 'identified' | 'off';
}

/** A change of status, sent to every notification channel. */
export interface StatusChange {
  readonly previous: OwnerStatusKind;
  readonly current: OwnerStatus;
  /** ISO 8601 time of the change (the device clock; may be untrusted). */
  readonly at: string;
  /** Why, in a few words: `FAIL accepted`, `fixed version announced`, `owner override`, … */
  readonly reason: string;
}

/** A notification channel: sends one change; never throws, never blocks the others. */
export interface NotificationChannel {
  /** `syslog`, `webhook`, `mqtt`, `email`. */
  readonly name: string;
  /** Delivers `change` (with the channel's own retries); resolves with the outcome, never rejects. */
  send(change: StatusChange): Promise<{ readonly delivered: boolean; readonly attempts: number; readonly error?: string }>;
  /** Releases connections. */
  close(): Promise<void>;
}
