import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { problemsOf } from '../../config/config-file.ts';
import { QUARANTINED } from '../../testing/owner-changes.ts';
import { formatOwnerMessage } from '../texts.ts';
import {
  EMAIL_DEFAULTS,
  createEmailChannel,
  emailConfigSchema,
  type EmailOptions,
} from './email.ts';

/** One message as the server got it. */
interface Delivery {
  readonly from: string;
  readonly to: string[];
  readonly raw: string;
  readonly user: string | undefined;
  readonly secure: boolean;
}

let server: SMTPServer;
let port: number;
const deliveries: Delivery[] = [];

before(async () => {
  // STARTTLS with smtp-server's built-in self-signed certificate; AUTH PLAIN/LOGIN for "owner".
  server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'camera@example.net' && auth.password === 'app-password')
        callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        deliveries.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: typeof session.user === 'string' ? session.user : undefined,
          secure: session.secure,
        });
        callback();
      });
    },
    logger: false,
  });
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  port = (server.server.address() as AddressInfo).port;
});

after(async () => {
  const closed = new Promise<void>((resolve) => {
    server.close(resolve);
  });
  await closed;
});

function options(overrides: Partial<EmailOptions> = {}): EmailOptions {
  return {
    host: '127.0.0.1',
    port,
    security: 'starttls',
    from: 'tattler@example.net',
    to: ['owner@example.net', 'partner@example.net'],
    timeoutMs: 5_000,
    ...overrides,
  };
}

/** The decoded text of a quoted-printable body (nodemailer's choice for long UTF-8 lines). */
function bodyOf(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  const bytes = Buffer.from(
    body
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
  return bytes.toString('utf8').replace(/\r\n/g, '\n');
}

test('email: the owner message arrives over STARTTLS with login, subject, body and every recipient', async () => {
  deliveries.length = 0;
  const channel = createEmailChannel(
    options({ username: 'camera@example.net', password: 'app-password' }),
    { tls: { rejectUnauthorized: false } },
  );
  assert.deepEqual(await channel.send(QUARANTINED), { delivered: true, attempts: 1 });
  await channel.close();
  const [delivery] = deliveries;
  assert.ok(delivery !== undefined);
  assert.equal(delivery.from, 'tattler@example.net');
  assert.deepEqual(delivery.to, ['owner@example.net', 'partner@example.net']);
  assert.equal(delivery.user, 'camera@example.net');
  assert.equal(delivery.secure, true);
  assert.match(
    delivery.raw,
    /^Subject: Your D-Link DIR-859 has been isolated from the internet\r$/m,
  );
  assert.match(delivery.raw, /^To: owner@example.net, partner@example.net\r$/m);
  assert.match(delivery.raw, /^Content-Type: text\/plain; charset=utf-8\r$/m);
  assert.equal(bodyOf(delivery.raw).trimEnd(), formatOwnerMessage(QUARANTINED).body.trimEnd());
});

test('email: a wrong password is reported, and the error does not contain it', async () => {
  const channel = createEmailChannel(
    options({ username: 'camera@example.net', password: 'wrong-pass' }),
    {
      tls: { rejectUnauthorized: false },
    },
  );
  const outcome = await channel.send(QUARANTINED);
  await channel.close();
  assert.equal(outcome.delivered, false);
  assert.match(outcome.error ?? '', /^EAUTH: /);
  assert.doesNotMatch(outcome.error ?? '', /wrong-pass/);
});

test('email: starttls refuses a server whose certificate is not trusted', async () => {
  const channel = createEmailChannel(options());
  const outcome = await channel.send(QUARANTINED);
  await channel.close();
  assert.equal(outcome.delivered, false);
  assert.match(outcome.error ?? '', /certificate/i);
});

test('emailConfigSchema picks the port from security and refuses a password in clear', () => {
  assert.deepEqual(
    emailConfigSchema.parse({
      host: 'smtp.example.net',
      from: 'a@example.net',
      to: ['b@example.net'],
    }),
    {
      host: 'smtp.example.net',
      port: 587,
      security: 'starttls',
      from: 'a@example.net',
      to: ['b@example.net'],
      timeoutMs: EMAIL_DEFAULTS.timeoutMs,
    },
  );
  assert.equal(
    emailConfigSchema.parse({
      host: 'smtp.example.net',
      security: 'tls',
      from: 'a@example.net',
      to: ['b@example.net'],
    }).port,
    465,
  );
  const bad = emailConfigSchema.safeParse({
    host: 'smtp.example.net',
    security: 'none',
    username: 'u',
    password: 'p4ssw0rd',
    from: 'nobody',
  });
  assert.ok(!bad.success);
  const problems = problemsOf(bad.error);
  assert.ok(problems.some((p) => p.path === 'from' && p.message.includes('owner@example.net')));
  assert.ok(problems.every((p) => !p.message.includes('p4ssw0rd')));
});
