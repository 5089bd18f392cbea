/**
 * The status page's HTML: one server-rendered document per view, no script, no external
 * resource, one inline style allowed by its hash. Pure: every value from the status, the device
 * and the request is escaped here and nowhere else.
 * @module
 */
import { createHash } from 'node:crypto';
import { formatDeviceName } from './texts.ts';
import type { OwnerAdvisory, OwnerStatus, OwnerStatusKind } from './types.ts';

/** What an unauthenticated viewer may see: only the status word, or everything but the forms' secrets. */
export type PublicDetail = 'status-only' | 'full';

/** How long an override may last: the `duration` field's values (seconds; '' until resumed). */
export const OVERRIDE_DURATIONS: readonly {
  readonly value: string;
  readonly label: string;
  readonly seconds?: number;
}[] = Object.freeze([
  { value: '3600', label: 'for 1 hour', seconds: 3600 },
  { value: '86400', label: 'for 1 day', seconds: 86_400 },
  { value: '604800', label: 'for 7 days', seconds: 604_800 },
  { value: 'until-resume', label: 'until I resume' },
]);
/** The longest reason kept, in characters: a sentence, not an essay (the agent persists it). */
export const MAX_REASON_CHARS = 200;

const STYLE = [
  'body{font:16px/1.5 system-ui,sans-serif;max-width:42em;margin:1em auto;padding:0 1em;color:#111}',
  'h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.5em}',
  '.notice{padding:.5em 1em;border-left:4px solid #555;background:#f2f2f2}',
  '.error{border-color:#b00020;background:#fdecee}.ok{border-color:#1b7a2b;background:#e9f6ec}',
  '.warning{border-left:4px solid #b36b00;padding-left:1em}',
  'form{margin:1em 0;padding:1em;border:1px solid #ccc}label{display:block;margin:.5em 0 .2em}',
  'input,select,textarea{font:inherit;width:100%;box-sizing:border-box}button{font:inherit;margin-top:1em}',
  'footer{margin-top:2em;font-size:.9em;color:#444}',
].join('');

/** The Content-Security-Policy of every page: nothing loads, nothing runs, forms post only here. */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A banner above the page: the outcome of a form, or why it was refused. */
export interface PageNotice {
  readonly kind: 'ok' | 'error';
  readonly text: string;
}

/** Everything one rendering needs; tokens are fresh per rendering. */
export interface PageView {
  readonly status: OwnerStatus;
  /** `full` after the owner logged in, or when the owner configured `public: full`. */
  readonly detail: PublicDetail;
  readonly tokens: { readonly login: string; readonly override: string; readonly resume: string };
  readonly notice?: PageNotice;
  /** Milliseconds left of a lockout after wrong secrets; 0 when none. */
  readonly lockoutRemainingMs: number;
}

/** `30 seconds`, `2 minutes`, `1 hour`: a wait, rounded up. */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.ceil(minutes / 60);
  return `${hours} hour${hours === 1 ? '' : 's'}`;
}

/** The banner shown to everyone while secrets are refused. */
export function lockoutText(remainingMs: number): string {
  return `Too many attempts with a wrong owner secret: the page refuses every secret for now. Try again in ${formatWait(remainingMs)}.`;
}

/** CVSS v3 qualitative rating (FIRST CVSS v3.1 specification §5). */
export function severityBand(cvss: number): string {
  if (cvss >= 9) return 'critical';
  if (cvss >= 7) return 'high';
  if (cvss >= 4) return 'medium';
  if (cvss > 0) return 'low';
  return 'none';
}

/** `severity 9.8 of 10 (critical)`, or `severity not rated`. */
export function formatSeverity(advisory: OwnerAdvisory): string {
  return advisory.cvss === undefined
    ? 'severity not rated'
    : `severity ${advisory.cvss.toFixed(1)} of 10 (${severityBand(advisory.cvss)})`;
}

/** `2026-11-26 06:16 UTC` from an ISO 8601 time; the text itself when it does not parse. */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A DNS name safe to put in `https://HOST/`: letters, digits, dots and dashes only. */
function isLinkableHost(host: string): boolean {
  return /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/i.test(host) && !host.includes('..');
}

function deviceName(status: OwnerStatus): string {
  return formatDeviceName(status.device);
}

/** The status word an unauthenticated viewer sees under `public: status-only`. */
export function statusWord(kind: OwnerStatusKind): string {
  switch (kind) {
    case 'quarantined':
      return 'cut off from the internet (security flaw found)';
    case 'overridden':
      return 'online at the owner’s request despite a security flaw';
    case 'would-quarantine':
      return 'security flaw found (warnings only)';
    case 'clear':
      return 'no known security problem';
    case 'off':
      return 'Tattler is turned off';
    case 'starting':
      return 'checking';
  }
}

const OFF_TEXT =
  'Tattler is turned off on this device (mode: off); it does not check for known vulnerabilities.';

function headline(status: OwnerStatus): string {
  const name = deviceName(status);
  switch (status.status) {
    case 'quarantined':
      return `Your ${name} is cut off from the internet`;
    case 'overridden':
      return `Your ${name} is back on the internet at your request, but it is still unsafe`;
    case 'would-quarantine':
      return `Your ${name} has a security flaw (warnings only)`;
    case 'clear':
      return `Your ${name}: no known security problem`;
    case 'off':
      return `Tattler is turned off on your ${name}`;
    case 'starting':
      return `Tattler is checking your ${name}`;
  }
}

function flawWords(advisories: readonly OwnerAdvisory[]): string {
  const many = advisories.length > 1;
  const exploited = advisories.some((a) => a.exploited);
  if (exploited)
    return many
      ? 'security flaws that attackers are exploiting'
      : 'a security flaw that attackers are exploiting';
  return many ? 'known security flaws' : 'a known security flaw';
}

function sinceWords(status: OwnerStatus): string {
  return status.since === undefined ? '' : ` since ${formatTime(status.since)}`;
}

function summary(status: OwnerStatus): string[] {
  const firmware = `its firmware (version ${status.device.softwareVersion})`;
  switch (status.status) {
    case 'quarantined':
      return [
        `Tattler, the security check built into this device, found that ${firmware} has ${flawWords(status.advisories)}. ` +
          `To protect you and others, the device has been cut off from the internet${sinceWords(status)}.`,
        'Your other devices and your internet connection are not affected.',
      ];
    case 'overridden': {
      const override = status.override;
      const until =
        override?.until === undefined
          ? 'until you resume protection'
          : `until ${formatTime(override.until)}`;
      return [
        `Tattler found that ${firmware} has ${flawWords(status.advisories)}. The owner overrode the quarantine${sinceWords(status)}, ` +
          `so the device can reach the internet ${until}. Attackers could take it over.`,
      ];
    }
    case 'would-quarantine':
      return [
        `Tattler found that ${firmware} has ${flawWords(status.advisories)}${sinceWords(status)}. ` +
          'Tattler is set to warn only, so nothing was blocked: the device still reaches the internet and can be attacked.',
      ];
    case 'clear':
      return [
        `Tattler knows of no security flaw in this device’s firmware (version ${status.device.softwareVersion}). It checks again regularly.`,
      ];
    case 'off':
      return [OFF_TEXT];
    case 'starting':
      return [
        'Tattler is checking whether this device’s firmware has known security flaws. This takes a few seconds after it goes online.',
      ];
  }
}

function paragraphs(texts: readonly string[]): string {
  return texts.map((text) => `<p>${escapeHtml(text)}</p>`).join('\n');
}

function advisoryItems(advisories: readonly OwnerAdvisory[]): string {
  return advisories
    .map((a) => {
      const exploited = a.exploited
        ? 'Attackers are exploiting this.'
        : 'Not known to be exploited yet.';
      return `<li><strong>${escapeHtml(a.id)}</strong>: ${escapeHtml(formatSeverity(a))}. ${exploited}</li>`;
    })
    .join('\n');
}

function remedy(status: OwnerStatus): string {
  const versions = status.fixedVersions;
  const fix =
    versions.length === 0
      ? 'The vendor has not published a fixed version yet. Check the vendor’s site from time to time, or replace the device.'
      : `Update the firmware to version ${versions.length === 1 ? (versions[0] ?? '') : versions.join(' or ')} or later.`;
  const links = status.updateHosts.filter(isLinkableHost).map((host) => {
    const url = `https://${host.toLowerCase()}/`;
    return `<li><a href="${escapeHtml(url)}" rel="noreferrer noopener">${escapeHtml(url)}</a></li>`;
  });
  const where =
    links.length === 0
      ? ''
      : `\n<p>The vendor’s update site:</p>\n<ul>\n${links.join('\n')}\n</ul>`;
  return `<h2>How to fix it</h2>\n<p>${escapeHtml(fix)}</p>${where}`;
}

function reachability(status: OwnerStatus): string {
  const hosts = status.updateHosts.filter(isLinkableHost).map((h) => h.toLowerCase());
  const update =
    hosts.length === 0
      ? 'The vendor’s update site, so the device can download its fix.'
      : `The vendor’s update site (${hosts.join(', ')}), so the device can download its fix.`;
  const works = [
    'Your home network: your other devices can still reach this device, and this page works.',
    'Name lookups (DNS).',
    update,
    'Tattler’s own check with your internet provider, so the device is let out as soon as it is fixed.',
  ];
  const broken = [
    'The internet: the device cannot reach other sites or cloud services, and its apps or remote access from outside your home will not work.',
  ];
  const list = (items: readonly string[]): string =>
    items.map((item) => `<li>${escapeHtml(item)}</li>`).join('\n');
  return `<h2>What still works</h2>\n<ul>\n${list(works)}\n</ul>\n<h2>What does not work</h2>\n<ul>\n${list(broken)}\n</ul>`;
}

function secretField(): string {
  return (
    '<label for="secret">Owner secret</label>\n' +
    '<input id="secret" name="secret" type="password" required autocomplete="current-password" maxlength="64" spellcheck="false">'
  );
}

function overrideForm(view: PageView): string {
  const ids = view.status.advisories.map((a) => a.id).join(', ');
  const options = OVERRIDE_DURATIONS.map(
    (d) => `<option value="${escapeHtml(d.value)}">${escapeHtml(d.label)}</option>`,
  ).join('');
  return `<h2>Override</h2>
<p class="warning">Only if you cannot update now and accept the risk: an override lets the device back on the internet with the flaw still in it. Attackers could take it over and use it against you or others. The override covers only ${escapeHtml(ids === '' ? 'the flaws listed above' : ids)}; if a different flaw is found, the device is cut off again.</p>
<form method="post" action="/override">
<input type="hidden" name="token" value="${escapeHtml(view.tokens.override)}">
${secretField()}
<label for="reason">Why (kept with the override)</label>
<input id="reason" name="reason" type="text" required maxlength="${MAX_REASON_CHARS}">
<label for="duration">For how long</label>
<select id="duration" name="duration">${options}</select>
<button type="submit">Override: let it back on the internet</button>
</form>`;
}

function resumeForm(view: PageView): string {
  const reason = view.status.override?.reason;
  const why =
    reason === undefined ? '' : `<p>Reason given for the override: “${escapeHtml(reason)}”</p>\n`;
  return `<h2>Resume protection</h2>
${why}<p>Resume ends the override: the device is cut off from the internet again until it is updated.</p>
<form method="post" action="/resume">
<input type="hidden" name="token" value="${escapeHtml(view.tokens.resume)}">
${secretField()}
<button type="submit">Resume: cut it off from the internet again</button>
</form>`;
}

function loginForm(view: PageView): string {
  return `<p>Log in to see details.</p>
<form method="post" action="/login">
<input type="hidden" name="token" value="${escapeHtml(view.tokens.login)}">
${secretField()}
<button type="submit">Log in</button>
</form>`;
}

function fullBody(view: PageView): string {
  const status = view.status;
  const parts = [`<h1>${escapeHtml(headline(status))}</h1>`, paragraphs(summary(status))];
  const held =
    status.status === 'quarantined' ||
    status.status === 'overridden' ||
    status.status === 'would-quarantine';
  if (held) {
    parts.push(
      `<h2>What was found</h2>\n<ul>\n${advisoryItems(status.advisories)}\n</ul>`,
      remedy(status),
    );
  }
  if (status.status === 'quarantined') parts.push(reachability(status), overrideForm(view));
  if (status.status === 'overridden') parts.push(resumeForm(view));
  return parts.join('\n');
}

function publicBody(view: PageView): string {
  const status = view.status;
  const word =
    status.status === 'off'
      ? `<p>${escapeHtml(OFF_TEXT)}</p>`
      : `<h1>Status: ${escapeHtml(statusWord(status.status))}</h1>`;
  return `${word}\n${loginForm(view)}`;
}

const FOOTER = `<footer>
<p>Tattler checks this device’s firmware against a list of known security flaws kept by your internet provider, and cuts it off from the internet when one is being exploited. The owner secret was shown once when Tattler first started on this device; whoever set the device up can make a new one on the device if it is lost.</p>
</footer>`;

/**
 * The page for `view`: the status (all of it, or the status word and a login form), notices and
 * the forms the status allows.
 * @example renderStatusPage({ status, detail: 'status-only', tokens, lockoutRemainingMs: 0 })
 */
export function renderStatusPage(view: PageView): string {
  const notices: PageNotice[] = [];
  if (view.notice !== undefined) notices.push(view.notice);
  if (view.lockoutRemainingMs > 0 && view.notice?.text !== lockoutText(view.lockoutRemainingMs)) {
    notices.push({ kind: 'error', text: lockoutText(view.lockoutRemainingMs) });
  }
  const banner = notices
    .map(
      (n) =>
        `<p class="notice ${n.kind}" role="${n.kind === 'error' ? 'alert' : 'status'}">${escapeHtml(n.text)}</p>`,
    )
    .join('\n');
  const body = view.detail === 'full' ? fullBody(view) : publicBody(view);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tattler: device status</title>
<style>${STYLE}</style>
</head>
<body>
${banner}
${body}
${FOOTER}
</body>
</html>
`;
}

/** A short page for answers that carry no status (not found, method not allowed). */
export function renderMessagePage(title: string, text: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(text)}</p>
<p><a href="/">Back to the status page</a></p>
</body>
</html>
`;
}
