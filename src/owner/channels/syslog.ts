/**
 * The syslog channel: each status change as one RFC 5424 message, sent over UDP (RFC 5426) to a
 * configured receiver, or handed to the local syslog / journald through util-linux `logger`.
 * The formatter is pure; the two transports are thin shells.
 * @module
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import { describe, integerCheck, leaf, section, textCheck } from '../../config/checks.ts';
import { formatSummary, isProblem } from '../texts.ts';
import type { NotificationChannel, StatusChange } from '../types.ts';

/** RFC 5424 §6.2.1 facility codes we accept (a device agent is a daemon; local0–7 for routing). */
export const SYSLOG_FACILITIES = Object.freeze({
  user: 1,
  daemon: 3,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
});
/** A facility name: `daemon`, `user`, `local0` … `local7`. */
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

/** RFC 5424 §6.2.1 severities used here. */
const SEVERITY = Object.freeze({ warning: 4, notice: 5, info: 6 });

/**
 * Our SD-ID. RFC 5424 §7.2.2: a private SD-ID is `name@<private enterprise number>`; 32473 is the
 * IANA PEN reserved for documentation (RFC 5612) until the project registers its own.
 */
export const SYSLOG_SD_ID = 'tattler@32473';
/** MSGID of every message (RFC 5424 §6.2.7: at most 32 printable ASCII characters). */
export const SYSLOG_MSGID = 'STATUS';
/**
 * Largest datagram: 2048 bytes, the size RFC 5426 §3.2 says receivers SHOULD accept (480 for
 * IPv4 MUST); the message text is cut at a UTF-8 boundary to fit.
 */
export const MAX_SYSLOG_BYTES = 2048;
/** RFC 5424 §6.4: a UTF-8 MSG starts with the byte order mark. */
const BOM = '\uFEFF';
/** How long `logger` may take to hand one message over. */
const LOGGER_TIMEOUT_MS = 5_000;

/** Where and how syslog messages go; see docs/owner-notifications.md. */
export interface SyslogOptions {
  /** `local`: `logger` to /dev/log (journald or the local daemon); `udp`: RFC 5424 to host:port. */
  readonly transport: 'local' | 'udp';
  readonly host: string;
  readonly port: number;
  readonly facility: SyslogFacility;
  /** APP-NAME (RFC 5424 §6.2.5; `logger -t`). */
  readonly appName: string;
  /** HOSTNAME field; absent: the system's host name. */
  readonly hostname?: string;
}

/** Defaults of {@link SyslogOptions}. */
export const SYSLOG_DEFAULTS = Object.freeze({
  transport: 'local' as const,
  host: '127.0.0.1',
  port: 514,
  facility: 'daemon' as const,
  appName: 'tattler-agent',
});

/** The header fields of one message, besides what the change decides. */
export interface SyslogHeader {
  readonly facility: SyslogFacility;
  readonly appName: string;
  readonly hostname: string;
  /** PROCID, e.g. the agent's pid; `-` when unknown. */
  readonly procId: string;
}

/** The severity of a change: warning for a problem, notice for a change worth reading, else info. */
export function severityOf(change: StatusChange): 4 | 5 | 6 {
  if (isProblem(change.current.status)) return SEVERITY.warning;
  if (change.current.status === 'starting') return SEVERITY.info;
  if (change.current.status === 'clear' && change.previous === 'starting') return SEVERITY.info;
  return SEVERITY.notice;
}

/** RFC 5424 §6.3.3: `"`, `\` and `]` are escaped with a backslash inside PARAM-VALUE. */
function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** RFC 5424 §6: a header field is 1..max printable US-ASCII characters (33–126), else NILVALUE. */
function headerField(value: string, max: number): string {
  return /^[\x21-\x7e]+$/.test(value) && value.length <= max ? value : '-';
}

/**
 * Longest SD parameter value: 128 bytes (512 for the advisory list, 16 ids of ~25 bytes), so the
 * SD element stays under ~1.5 KiB and the message text keeps room within MAX_SYSLOG_BYTES.
 */
const MAX_PARAM_BYTES = 128;
const MAX_ADVISORIES_PARAM_BYTES = 512;

/** The structured-data parameters of a change, in a fixed order, values cut to their limits. */
export function syslogParameters(change: StatusChange): [string, string][] {
  return rawParameters(change).map(([name, value]) => [
    name,
    truncateUtf8(value, name === 'advisories' ? MAX_ADVISORIES_PARAM_BYTES : MAX_PARAM_BYTES),
  ]);
}

function rawParameters(change: StatusChange): [string, string][] {
  const status = change.current;
  const params: [string, string][] = [
    ['status', status.status],
    ['previous', change.previous],
    ['reason', change.reason],
    ['vendor', status.device.vendor],
    ['model', status.device.model],
    ['version', status.device.softwareVersion],
  ];
  if (status.advisories.length > 0)
    params.push(['advisories', status.advisories.map((a) => a.id).join(' ')]);
  if (status.fixedVersions.length > 0) params.push(['fixed', status.fixedVersions.join(' ')]);
  return params;
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.byteLength <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // Back up over continuation bytes (10xxxxxx) to a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/**
 * One RFC 5424 message for `change`: PRI, version 1, the change's timestamp, host name, app
 * name, proc id, MSGID `STATUS`, one SD element `[tattler@32473 …]` and the owner's summary
 * (BOM-prefixed UTF-8), at most {@link MAX_SYSLOG_BYTES} bytes.
 * @example formatSyslogMessage(change, { facility: 'daemon', appName: 'tattler-agent', hostname: 'cam1', procId: '42' })
 * // '<28>1 2026-11-26T06:00:00.000Z cam1 tattler-agent 42 STATUS [tattler@32473 status="quarantined" …] \uFEFFTattler found …'
 */
export function formatSyslogMessage(change: StatusChange, header: SyslogHeader): string {
  const pri = SYSLOG_FACILITIES[header.facility] * 8 + severityOf(change);
  // RFC 5424 §6.2.3: an RFC 3339 timestamp; anything else is NILVALUE.
  const timestamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$/.test(change.at)
    ? change.at
    : '-';
  const sd = `[${SYSLOG_SD_ID}${syslogParameters(change)
    .map(([name, value]) => ` ${name}="${escapeParamValue(value)}"`)
    .join('')}]`;
  const head = [
    `<${pri}>1`,
    timestamp,
    headerField(header.hostname, 255),
    headerField(header.appName, 48),
    headerField(header.procId, 128),
    SYSLOG_MSGID,
    sd,
  ].join(' ');
  const room = MAX_SYSLOG_BYTES - Buffer.byteLength(`${head} ${BOM}`, 'utf8');
  return `${head} ${BOM}${truncateUtf8(formatSummary(change), room)}`;
}

/** RFC 5424 §6.2.1 severity names, as `logger -p` wants them. */
const SEVERITY_NAMES = { 4: 'warning', 5: 'notice', 6: 'info' } as const;

/**
 * The `logger` arguments for `change` (util-linux): tag, priority, and a message that leads with
 * `status=… advisories=…` so it can be grepped in the journal, then the owner's summary.
 */
export function loggerArguments(
  change: StatusChange,
  options: { facility: SyslogFacility; appName: string },
): string[] {
  const fields = syslogParameters(change)
    .filter(([name]) => name === 'status' || name === 'advisories' || name === 'fixed')
    .map(([name, value]) => `${name}=${value.replace(/ /g, ',')}`)
    .join(' ');
  return [
    '--socket-errors=off',
    '-t',
    options.appName,
    '-p',
    `${options.facility}.${SEVERITY_NAMES[severityOf(change)]}`,
    '--',
    truncateUtf8(`${fields}: ${formatSummary(change)}`, MAX_SYSLOG_BYTES - 100),
  ];
}

/** What the syslog channel needs from outside (tests replace `runLogger`). */
export interface SyslogDeps {
  /** Runs `logger` with the given arguments; resolves with its exit code. */
  readonly runLogger?: (args: readonly string[]) => Promise<number | null>;
  /** The PROCID field; default this process's pid. */
  readonly procId?: string;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A syslog channel. `udp` sends the exact RFC 5424 text in one datagram; `local` runs `logger`,
 * because Node cannot open the unix datagram socket /dev/log itself.
 */
export function createSyslogChannel(
  options: SyslogOptions,
  deps: SyslogDeps = {},
): NotificationChannel {
  const header: SyslogHeader = {
    facility: options.facility,
    appName: options.appName,
    hostname: options.hostname ?? osHostname(),
    procId: deps.procId ?? String(process.pid),
  };
  const runLogger = deps.runLogger ?? runSystemLogger;
  const family = isIP(options.host) === 6 ? 'udp6' : 'udp4';
  return {
    name: 'syslog',
    async send(change) {
      try {
        if (options.transport === 'local') {
          const code = await runLogger(loggerArguments(change, options));
          return code === 0
            ? { delivered: true, attempts: 1 }
            : { delivered: false, attempts: 1, error: `logger exited with ${String(code)}` };
        }
        const bytes = Buffer.from(formatSyslogMessage(change, header), 'utf8');
        await sendDatagram(bytes, { family, host: options.host, port: options.port });
        return { delivered: true, attempts: 1 };
      } catch (err) {
        return { delivered: false, attempts: 1, error: errorText(err) };
      }
    },
    close() {
      return Promise.resolve();
    },
  };
}

/** Runs util-linux `logger` (no shell) and resolves with its exit code. */
function runSystemLogger(args: readonly string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    execFile('logger', args, { timeout: LOGGER_TIMEOUT_MS }, (error) => {
      if (error === null) resolve(0);
      else if (typeof error.code === 'number') resolve(error.code);
      else
        reject(
          new Error(`logger: ${error.killed ? 'timed out' : String(error.code ?? error.signal)}`),
        );
    });
  });
}

/** Sends one datagram from a fresh socket and closes it (one message per status change). */
function sendDatagram(
  bytes: Buffer,
  target: { family: 'udp4' | 'udp6'; host: string; port: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(target.family);
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.send(bytes, target.port, target.host, (err) => {
      socket.close();
      if (err === null) resolve();
      else reject(err);
    });
  });
}

// ---- config ------------------------------------------------------------------------------------

function transportCheck(input: unknown, fail: (message: string) => never): 'local' | 'udp' {
  if (input === 'local' || input === 'udp') return input;
  return fail(
    `${describe(input)} is not a transport — write local (the device's own syslog/journald) or udp (a syslog server, with host and port)`,
  );
}

function facilityCheck(input: unknown, fail: (message: string) => never): SyslogFacility {
  if (typeof input === 'string' && Object.hasOwn(SYSLOG_FACILITIES, input))
    return input as SyslogFacility;
  return fail(
    `${describe(input)} is not a facility — write one of ${Object.keys(SYSLOG_FACILITIES).join(', ')}`,
  );
}

function hostCheck(input: unknown, fail: (message: string) => never): string {
  if (typeof input === 'string' && isIP(input.trim()) !== 0) return input.trim();
  return fail(
    `${describe(input)} is not an IP address — write the syslog server's address, e.g. 192.0.2.10 (names are not resolved, so a DNS failure cannot lose a message)`,
  );
}

const appNameCheck = textCheck({ maxBytes: 48, example: 'tattler-agent' });

/** The `notify.syslog` section: YAML → {@link SyslogOptions}. */
export const syslogConfigSchema = section(
  {
    transport: leaf(transportCheck),
    host: leaf(hostCheck),
    port: leaf(integerCheck({ min: 1, max: 65_535, example: '514' })),
    facility: leaf(facilityCheck),
    appName: leaf((input, fail) => {
      const text = appNameCheck(input, fail);
      return /^[\x21-\x7e]+$/.test(text)
        ? text
        : fail(`${describe(input)} has spaces or non-ASCII characters — write e.g. tattler-agent`);
    }),
    hostname: leaf((input, fail) =>
      typeof input === 'string' && /^[\x21-\x7e]{1,255}$/.test(input)
        ? input
        : fail(`${describe(input)} is not a host name — write e.g. camera-garden`),
    ),
  },
  '{transport: udp, host: 192.0.2.10, port: 514}',
)
  .superRefine((parsed, ctx) => {
    if ((parsed.transport ?? SYSLOG_DEFAULTS.transport) === 'local') {
      for (const key of ['host', 'port'] as const) {
        if (parsed[key] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `only used with transport: udp — add transport: udp, or remove ${key}`,
          });
      }
    } else if (parsed.host === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: 'missing with transport: udp — add the syslog server, e.g. host: 192.0.2.10',
      });
    }
  })
  .transform((parsed): SyslogOptions => ({
    transport: parsed.transport ?? SYSLOG_DEFAULTS.transport,
    host: parsed.host ?? SYSLOG_DEFAULTS.host,
    port: parsed.port ?? SYSLOG_DEFAULTS.port,
    facility: parsed.facility ?? SYSLOG_DEFAULTS.facility,
    appName: parsed.appName ?? SYSLOG_DEFAULTS.appName,
    ...(parsed.hostname === undefined ? {} : { hostname: parsed.hostname }),
  }));
