/**
 * The words an owner reads, on every channel: plain-English sentences built from an
 * {@link OwnerStatus}. Pure: no I/O, no clock; the status page and every notification reuse them.
 * @module
 */
import type { OwnerAdvisory, OwnerStatus, OwnerStatusKind, StatusChange } from './types.ts';

/** A subject line and a plain-text body (lines joined with `\n`), for e-mail and the status page. */
export interface OwnerMessage {
  readonly subject: string;
  readonly body: string;
}

/** `D-Link DIR-859`: the vendor and the model, without the vendor twice when the model repeats it. */
export function formatDeviceName(device: OwnerStatus['device']): string {
  const vendor = device.vendor.trim();
  const model = device.model.trim();
  if (vendor === '') return model;
  return model.toLowerCase().startsWith(vendor.toLowerCase()) ? model : `${vendor} ${model}`;
}

/** `CVE-2019-17621, severity 9.8 of 10`: one advisory in the owner's words. */
export function formatAdvisory(advisory: OwnerAdvisory): string {
  return advisory.cvss === undefined
    ? advisory.id
    : `${advisory.id}, severity ${advisory.cvss.toFixed(1)} of 10`;
}

/** `a security flaw that attackers are exploiting` (or plural / not known to be exploited). */
export function describeFlaws(advisories: readonly OwnerAdvisory[]): string {
  const exploited = advisories.some((a) => a.exploited);
  const many = advisories.length > 1;
  const noun = many ? 'security flaws' : 'a security flaw';
  return exploited
    ? `${noun} that attackers are exploiting`
    : many
      ? 'known security flaws'
      : 'a known security flaw';
}

/** `https://support.dlink.com/`: the vendor's first update host as a link, if the record has one. */
export function formatUpdateLink(status: OwnerStatus): string | undefined {
  const host = status.updateHosts[0];
  return host === undefined ? undefined : `https://${host}/`;
}

/** `Update its firmware to 1.06 or later: https://support.dlink.com/`, or what to do without a fix. */
export function describeRemedy(status: OwnerStatus): string {
  const link = formatUpdateLink(status);
  const versions = status.fixedVersions;
  if (versions.length === 0) {
    const where = link === undefined ? "on the vendor's website" : `at ${link}`;
    return `The vendor has not published a fixed firmware yet. Check for one ${where} from time to time, or replace the device.`;
  }
  const target =
    versions.length === 1
      ? `${versions[0] ?? ''} or later`
      : `one of these versions or later: ${versions.join(', ')}`;
  return link === undefined
    ? `Update its firmware to ${target}, from the vendor's website.`
    : `Update its firmware to ${target}: ${link}`;
}

const OVERRIDE_ADVICE =
  "If you cannot update it now and accept the risk, you can let it back online from Tattler's " +
  'status page on the device (an "override"). Attackers could then take it over.';

/** The owner's one-sentence headline for a status, also the e-mail subject. */
export function formatHeadline(change: StatusChange): string {
  const name = formatDeviceName(change.current.device);
  switch (change.current.status) {
    case 'quarantined':
      return `Your ${name} has been isolated from the internet`;
    case 'would-quarantine':
      return `Your ${name} has a security flaw (not isolated: warnings only)`;
    case 'overridden':
      return `Your ${name} is back on the internet at your request, but still unsafe`;
    case 'clear':
      return wasHeld(change.previous)
        ? `Your ${name} is back on the internet`
        : `Your ${name}: no known security problem`;
    case 'off':
      return `Security checks for your ${name} are turned off`;
    case 'starting':
      return `Tattler is checking your ${name}`;
  }
}

/**
 * `2026-11-26 06:00 UTC` from `2026-11-26T06:00:00.000Z`: a time an owner reads easily. Other
 * offsets and other text are returned as they are.
 */
export function formatTime(iso: string): string {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?Z$/.exec(iso);
  return match === null ? iso : `${match[1] ?? ''} ${match[2] ?? ''} UTC`;
}

/** True for the statuses in which a FAIL was in force. */
function wasHeld(kind: OwnerStatusKind): boolean {
  return kind === 'quarantined' || kind === 'overridden' || kind === 'would-quarantine';
}

/**
 * `this D-Link DIR-859 (firmware 1.05B03) has a security flaw that attackers are exploiting
 * (CVE-2019-17621, severity 9.8 of 10)`.
 */
function describeFinding(status: OwnerStatus): string {
  const device = `this ${formatDeviceName(status.device)} (firmware ${status.device.softwareVersion})`;
  return `${device} has ${describeFlawList(status)}`;
}

/** `a security flaw that attackers are exploiting (CVE-2019-17621, severity 9.8 of 10)`. */
function describeFlawList(status: OwnerStatus): string {
  const list = status.advisories.map(formatAdvisory).join('; ');
  return `${describeFlaws(status.advisories)}${list === '' ? '' : ` (${list})`}`;
}

/**
 * The main paragraph for the current status: what was found, what still works, what to do. One
 * paragraph, suitable for syslog's message and an MQTT attribute as well as e-mail.
 * @example formatSummary(change) // "Tattler found that this D-Link DIR-859 (firmware 1.05B03) has …"
 */
export function formatSummary(change: StatusChange): string {
  const status = change.current;
  const name = formatDeviceName(status.device);
  switch (status.status) {
    case 'quarantined':
      return (
        `Tattler found that ${describeFinding(status)}. To protect your network, it can now only ` +
        "reach your home network and its vendor's update server. " +
        describeRemedy(status)
      );
    case 'would-quarantine':
      return (
        `Tattler found that ${describeFinding(status)}. Tattler is set to warn only, so nothing ` +
        `was blocked: the device still reaches the internet and can be attacked. ${describeRemedy(status)}`
      );
    case 'overridden': {
      const until = status.override?.until;
      return (
        `This ${name} can reach the internet again because you chose to override Tattler` +
        `${until === undefined ? '' : ` (until ${formatTime(until)})`}, but it still has ${describeFlawList(status)}. ` +
        describeRemedy(status)
      );
    }
    case 'clear':
      return wasHeld(change.previous)
        ? `This ${name} (firmware ${status.device.softwareVersion}) is no longer isolated (${change.reason}) and can reach the internet again.`
        : `Tattler knows of no security problem with this ${name} (firmware ${status.device.softwareVersion}).`;
    case 'off':
      return `Tattler's security checks are turned off for this ${name}: it will not be warned about known flaws, nor isolated.`;
    case 'starting':
      return `Tattler is checking whether this ${name} (firmware ${status.device.softwareVersion}) has known security flaws.`;
  }
}

/**
 * The full owner message for a change: headline as subject; the summary, what still works, what
 * to do and the override advice, in short paragraphs a non-technical owner can follow.
 */
export function formatOwnerMessage(change: StatusChange): OwnerMessage {
  const status = change.current;
  const paragraphs: string[] = [formatSummary(change)];
  if (status.status === 'quarantined') {
    paragraphs.push(
      'What still works: devices in your home can still talk to it, and it can still download ' +
        'its update. Your other devices and your internet connection are not affected.',
      OVERRIDE_ADVICE,
    );
  }
  if (status.status === 'overridden' && status.override !== undefined)
    paragraphs.push(`Reason given for the override: ${status.override.reason}`);
  if (status.status === 'would-quarantine' || status.status === 'overridden') {
    paragraphs.push('Until it is updated, consider unplugging it or moving it to a guest network.');
  }
  const since = status.since ?? change.at;
  paragraphs.push(
    `— Tattler on your ${formatDeviceName(status.device)}, ${formatTime(since)}. Technical reason: ${change.reason}.`,
  );
  return { subject: formatHeadline(change), body: `${paragraphs.join('\n\n')}\n` };
}

/** True when the owner should see a problem: a FAIL in force and not overridden. */
export function isProblem(status: OwnerStatusKind): boolean {
  return status === 'quarantined' || status === 'would-quarantine';
}
