import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ConfigError } from '../config/config-file.ts';
import type { LogFields, LogLevel } from '../logging/log.ts';
import { FIXED, OVERRIDDEN, QUARANTINED, changeTo } from '../testing/owner-changes.ts';
import {
  MAX_PENDING_CHANGES,
  createFanOut,
  createNotifier,
  parseNotifyConfig,
} from './notifier.ts';
import type { NotificationChannel, OwnerStatusKind, StatusChange } from './types.ts';

interface LogEntry {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields: LogFields | undefined;
}

/** A log sink that records entries; `next()` resolves at the next one. */
function logRecorder() {
  const entries: LogEntry[] = [];
  let waiter: (() => void) | undefined;
  return {
    entries,
    log: (level: LogLevel, event: string, _message: string, fields?: LogFields): void => {
      entries.push({ level, event, fields });
      waiter?.();
    },
    next: () =>
      new Promise<void>((resolve) => {
        waiter = resolve;
      }),
  };
}

/** A channel whose sends complete only when the test releases them, one at a time. */
function gatedChannel(name: string) {
  const seen: OwnerStatusKind[] = [];
  const gates: (() => void)[] = [];
  let arrived: (() => void) | undefined;
  let closed = false;
  const channel: NotificationChannel = {
    name,
    send(change) {
      seen.push(change.current.status);
      arrived?.();
      return new Promise((resolve) =>
        gates.push(() => {
          resolve({ delivered: true, attempts: 1 });
        }),
      );
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
  return {
    channel,
    seen,
    isClosed: () => closed,
    /** Resolves once `n` sends have started. */
    started: (n: number) =>
      seen.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            arrived = () => {
              if (seen.length >= n) resolve();
            };
          }),
    releaseOne: () => gates.shift()?.(),
  };
}

/** A channel that records and answers at once. */
function recordingChannel(name: string) {
  const seen: StatusChange[] = [];
  const channel: NotificationChannel = {
    name,
    send(change) {
      seen.push(change);
      return Promise.resolve({ delivered: true, attempts: 1 });
    },
    close: () => Promise.resolve(),
  };
  return { channel, seen };
}

test('notify() returns at once, and a hanging channel does not delay the others', async () => {
  const { log, entries, next } = logRecorder();
  const hanging = gatedChannel('webhook');
  const quick = recordingChannel('syslog');
  const notifier = createFanOut([hanging.channel, quick.channel], { log, closeGraceMs: 20 });
  const logged = next();
  notifier.notify(QUARANTINED);
  await hanging.started(1);
  await logged;
  assert.deepEqual(quick.seen, [QUARANTINED]);
  assert.deepEqual(entries, [
    {
      level: 'info',
      event: 'notify_delivered',
      fields: { channel: 'syslog', status: 'quarantined', attempts: 1 },
    },
  ]);
  // close() gives up on the hanging send after the grace period and still closes every channel.
  await notifier.close();
  assert.ok(hanging.isClosed());
  notifier.notify(FIXED);
  assert.equal(quick.seen.length, 1);
});

test('a slow channel gets changes in order, keeps at most MAX_PENDING_CHANGES, the latest always', async () => {
  const { log, entries } = logRecorder();
  const slow = gatedChannel('mqtt');
  const notifier = createFanOut([slow.channel], { log });
  const statuses: OwnerStatusKind[] = [
    'quarantined',
    'overridden',
    'quarantined',
    'would-quarantine',
    'off',
    'clear',
  ];
  for (const status of statuses) notifier.notify(changeTo(status));
  assert.equal(MAX_PENDING_CHANGES, 4);
  for (let i = 0; i < 5; i++) {
    await slow.started(i + 1);
    slow.releaseOne();
  }
  await notifier.idle();
  // The first is in flight, four wait; the sixth replaces the last waiting one ('off').
  assert.deepEqual(slow.seen, [
    'quarantined',
    'overridden',
    'quarantined',
    'would-quarantine',
    'clear',
  ]);
  assert.deepEqual(
    entries.filter((e) => e.event === 'notify_dropped'),
    [{ level: 'warn', event: 'notify_dropped', fields: { channel: 'mqtt', status: 'off' } }],
  );
});

test('a channel that throws is logged as failed and does not stop the others', async () => {
  const { log, entries } = logRecorder();
  const broken: NotificationChannel = {
    name: 'email',
    send: () => Promise.reject(new Error('boom')),
    close: () => Promise.reject(new Error('still boom')),
  };
  const quick = recordingChannel('syslog');
  const notifier = createFanOut([broken, quick.channel], { log });
  notifier.notify(QUARANTINED);
  notifier.notify(OVERRIDDEN);
  await notifier.idle();
  assert.deepEqual(quick.seen, [QUARANTINED, OVERRIDDEN]);
  assert.deepEqual(
    entries.filter((e) => e.event === 'notify_failed').map((e) => e.fields),
    [
      { channel: 'email', status: 'quarantined', attempts: 1, error: 'boom' },
      { channel: 'email', status: 'overridden', attempts: 1, error: 'boom' },
    ],
  );
  await notifier.close();
  assert.ok(entries.some((e) => e.event === 'notify_close_failed'));
});

test('createNotifier() sends to syslog and a webhook from one config, and logs no secret', async () => {
  const secret = 'do-not-log-this-secret-0123456789';
  const syslog = createSocket('udp4');
  syslog.bind(0, '127.0.0.1');
  await once(syslog, 'listening');
  const bodies: string[] = [];
  const hook = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(bodies.length === 1 ? 204 : 400).end();
    });
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  try {
    const config = parseNotifyConfig(
      {
        syslog: { transport: 'udp', host: '127.0.0.1', port: syslog.address().port },
        webhook: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`, secret },
      },
      'agent.yaml',
    );
    const { log, entries } = logRecorder();
    const notifier = createNotifier(config, { log, hostname: 'cam1' });
    assert.deepEqual(notifier.channels, ['syslog', 'webhook']);
    const datagram = once(syslog, 'message');
    notifier.notify(QUARANTINED);
    notifier.notify(FIXED);
    await notifier.idle();
    const [bytes] = (await datagram) as [Buffer];
    assert.match(bytes.toString('utf8'), /^<28>1 2026-11-26T06:00:00.000Z cam1 tattler-agent /);
    assert.equal(bodies.length, 2);
    assert.deepEqual(
      entries.map((e) => [e.event, e.fields?.['channel'], e.fields?.['status']]).sort(),
      [
        ['notify_delivered', 'syslog', 'clear'],
        ['notify_delivered', 'syslog', 'quarantined'],
        ['notify_delivered', 'webhook', 'quarantined'],
        ['notify_failed', 'webhook', 'clear'],
      ],
    );
    assert.doesNotMatch(JSON.stringify(entries), new RegExp(secret));
    await notifier.close();
  } finally {
    syslog.close();
    hook.closeAllConnections();
    hook.close();
  }
});

test('parseNotifyConfig() accepts no channels, and names each problem under notify.', () => {
  assert.deepEqual(parseNotifyConfig(undefined, 'agent.yaml'), {});
  assert.deepEqual(Object.keys(parseNotifyConfig({ syslog: {} }, 'agent.yaml')), ['syslog']);
  assert.throws(
    () =>
      parseNotifyConfig(
        { webhok: {}, mqtt: { url: 'tcp://broker' }, email: 'owner@example.net' },
        'agent.yaml',
      ),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map((p) => p.path).sort(), [
        'notify.email',
        'notify.mqtt.url',
        'notify.webhok',
      ]);
      assert.match(
        err.message,
        /agent\.yaml: notify\.webhok: unknown key — did you mean "webhook"\?/,
      );
      assert.match(
        err.message,
        /notify\.email: "owner@example\.net" is not a map — write keys under it/,
      );
      return true;
    },
  );
});
