/**
 * The e-mail channel: each status change as a plain-text message the owner can act on, sent over
 * SMTP with nodemailer (implicit TLS, STARTTLS, or plain on a trusted LAN).
 * @module
 */
import { createTransport } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import {
  describe,
  integerCheck,
  leaf,
  list,
  requiredLeaf,
  section,
  textCheck,
} from '../../config/checks.ts';
import { formatOwnerMessage } from '../texts.ts';
import type { NotificationChannel } from '../types.ts';

/** How the SMTP connection is protected. */
export type SmtpSecurity = 'tls' | 'starttls' | 'none';

/** Most recipients: 10, an owner and a few family members or admins. */
export const MAX_EMAIL_RECIPIENTS = 10;

/** Where and how to send; see docs/owner-notifications.md. */
export interface EmailOptions {
  readonly host: string;
  readonly port: number;
  /** `tls`: TLS from the first byte (port 465); `starttls`: upgrade required (587); `none`: plain. */
  readonly security: SmtpSecurity;
  readonly username?: string;
  /** Never logged. */
  readonly password?: string;
  readonly from: string;
  readonly to: readonly string[];
  /** Connection, greeting and each SMTP reply must come within this. */
  readonly timeoutMs: number;
}

/** Defaults of {@link EmailOptions}: port by security (RFC 8314 §3.3: 465 implicit TLS; 587 submission). */
export const EMAIL_DEFAULTS = Object.freeze({
  security: 'starttls' as const,
  ports: Object.freeze({ tls: 465, starttls: 587, none: 25 }),
  timeoutMs: 30_000,
});

/** Test-only knobs: accept the loopback test server's self-signed certificate. */
export interface EmailDeps {
  readonly tls?: { readonly rejectUnauthorized: boolean };
}

/** An e-mail channel; one SMTP connection per change (changes are rare). */
export function createEmailChannel(
  options: EmailOptions,
  deps: EmailDeps = {},
): NotificationChannel {
  const transportOptions: SMTPTransport.Options = {
    host: options.host,
    port: options.port,
    secure: options.security === 'tls',
    requireTLS: options.security === 'starttls',
    ignoreTLS: options.security === 'none',
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
    ...(options.username === undefined
      ? {}
      : { auth: { user: options.username, pass: options.password ?? '' } }),
    ...(deps.tls === undefined ? {} : { tls: { rejectUnauthorized: deps.tls.rejectUnauthorized } }),
  };
  const transport = createTransport(transportOptions);
  return {
    name: 'email',
    async send(change) {
      const message = formatOwnerMessage(change);
      try {
        const info = await transport.sendMail({
          from: options.from,
          to: [...options.to],
          subject: message.subject,
          text: message.body,
        });
        return info.rejected.length === 0
          ? { delivered: true, attempts: 1 }
          : {
              delivered: false,
              attempts: 1,
              error: `${info.rejected.length} recipient(s) refused`,
            };
      } catch (err) {
        // nodemailer's messages name the SMTP step and reply; they never hold the password.
        const code =
          typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'error';
        return {
          delivered: false,
          attempts: 1,
          error: `${code}: ${err instanceof Error ? err.message : String(err)}`,
        };
      }
    },
    close() {
      transport.close();
      return Promise.resolve();
    },
  };
}

// ---- config ------------------------------------------------------------------------------------

// An address as owners write it: local@domain (display names are not needed here).
const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;

function addressCheck(input: unknown, fail: (message: string) => never): string {
  return typeof input === 'string' && ADDRESS.test(input.trim()) && input.length <= 254
    ? input.trim()
    : fail(`${describe(input)} is not an e-mail address — write e.g. owner@example.net`);
}

function securityCheck(input: unknown, fail: (message: string) => never): SmtpSecurity {
  if (input === 'tls' || input === 'starttls' || input === 'none') return input;
  return fail(
    `${describe(input)} is not tls, starttls or none — write tls (port 465), starttls (port 587) or none (a relay on your own network only)`,
  );
}

function hostCheck(input: unknown, fail: (message: string) => never): string {
  return typeof input === 'string' && /^[A-Za-z0-9.:-]{1,253}$/.test(input.trim())
    ? input.trim()
    : fail(`${describe(input)} is not a host name — write the mail server, e.g. smtp.example.net`);
}

/** The `notify.email` section: YAML → {@link EmailOptions}. */
export const emailConfigSchema = section(
  {
    host: requiredLeaf(hostCheck, 'host: smtp.example.net'),
    port: leaf(integerCheck({ min: 1, max: 65_535, example: '587' })),
    security: leaf(securityCheck),
    username: leaf(textCheck({ maxBytes: 256, example: 'camera@example.net' })),
    password: leaf((input, fail) =>
      typeof input === 'string' && input !== '' && Buffer.byteLength(input) <= 1024
        ? input
        : fail('is not a password — write it as quoted text of at most 1024 bytes'),
    ),
    from: requiredLeaf(addressCheck, 'from: tattler@example.net'),
    to: list(requiredLeaf(addressCheck, 'owner@example.net'), {
      max: MAX_EMAIL_RECIPIENTS,
      example: '[owner@example.net]',
    })
      .min(1, { error: 'empty — add at least one recipient, e.g. [owner@example.net]' })
      .optional(),
    timeoutSeconds: leaf(integerCheck({ min: 1, max: 300, example: '30' })),
  },
  '{host: smtp.example.net, from: tattler@example.net, to: [owner@example.net]}',
)
  .superRefine((parsed, ctx) => {
    if (parsed.to === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: 'missing — add who is told, e.g. to: [owner@example.net]',
      });
    if (parsed.password !== undefined && parsed.username === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['username'],
        message: 'missing while password is set — add username',
      });
    if (parsed.username !== undefined && parsed.security === 'none')
      ctx.addIssue({
        code: 'custom',
        path: ['security'],
        message:
          'none would send the password in clear — use starttls or tls, or remove username and password',
      });
  })
  .transform((parsed): EmailOptions => {
    const security = parsed.security ?? EMAIL_DEFAULTS.security;
    return {
      host: parsed.host,
      port: parsed.port ?? EMAIL_DEFAULTS.ports[security],
      security,
      ...(parsed.username === undefined ? {} : { username: parsed.username }),
      ...(parsed.password === undefined ? {} : { password: parsed.password }),
      from: parsed.from,
      to: parsed.to ?? [],
      timeoutMs: (parsed.timeoutSeconds ?? EMAIL_DEFAULTS.timeoutMs / 1000) * 1000,
    };
  });
