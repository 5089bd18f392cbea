/**
 * Tells the owner on every configured channel (syslog, webhook, MQTT, e-mail): fans each status
 * change out concurrently, one ordered, bounded queue per channel, so a failing or hanging channel
 * never delays the others, the caller, or the quarantine. Also the `notify:` config section.
 * @module
 */
import type { z } from 'zod';
import { section } from '../config/checks.ts';
import { ConfigError, deepFreeze, problemsOf } from '../config/config-file.ts';
import type { LogSink } from '../logging/log.ts';
import { createEmailChannel, emailConfigSchema, type EmailDeps } from './channels/email.ts';
import { createMqttChannel, mqttConfigSchema, type MqttDeps } from './channels/mqtt.ts';
import { createSyslogChannel, syslogConfigSchema, type SyslogDeps } from './channels/syslog.ts';
import { createWebhookChannel, webhookConfigSchema, type WebhookDeps } from './channels/webhook.ts';
import type { NotificationChannel, StatusChange } from './types.ts';

export { emailConfigSchema, mqttConfigSchema, syslogConfigSchema, webhookConfigSchema };

/**
 * Most changes waiting per channel: 4. Status changes come seconds to days apart; beyond this a
 * channel is stuck, and the owner needs the latest state more than the history, so the last
 * waiting change is replaced by the newest (the first ones, e.g. "quarantined", stay in order).
 */
export const MAX_PENDING_CHANGES = 4;
/** How long `close()` waits for deliveries in flight before cancelling them. */
export const CLOSE_GRACE_MS = 5_000;

/**
 * The `notify:` section of the agent's config: every channel optional, each a map (`syslog: {}`
 * uses the defaults). Its output is {@link NotifyConfig}.
 */
export const notifyConfigSchema = section(
  {
    syslog: syslogConfigSchema.optional(),
    webhook: webhookConfigSchema.optional(),
    mqtt: mqttConfigSchema.optional(),
    email: emailConfigSchema.optional(),
  },
  '{syslog: {}, webhook: {url: https://hooks.example.net/tattler, secret: "…"}}',
);

/** The validated `notify:` section; an absent key is a channel that is off. */
export type NotifyConfig = z.output<typeof notifyConfigSchema>;

/**
 * Validates a `notify:` section on its own (the agent embeds {@link notifyConfigSchema} instead);
 * throws {@link ConfigError} naming each key with its problem and fix.
 */
export function parseNotifyConfig(data: unknown, file: string): NotifyConfig {
  const result = notifyConfigSchema.safeParse(data ?? {}, { reportInput: true });
  if (!result.success)
    throw new ConfigError(
      file,
      problemsOf(result.error).map((p) => ({
        ...p,
        path: p.path === '' ? 'notify' : `notify.${p.path}`,
      })),
    );
  return deepFreeze(result.data);
}

/** Fans status changes out; never throws, never blocks. */
export interface Notifier {
  /** The configured channels' names, in order. */
  readonly channels: readonly string[];
  /** Queues `change` on every channel and returns at once. */
  notify(change: StatusChange): void;
  /** Resolves when every channel has nothing in flight or waiting (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops taking changes, waits up to {@link CLOSE_GRACE_MS} for deliveries, then closes channels. */
  close(): Promise<void>;
}

/** What the notifier needs: where outcomes are logged, and channel knobs for tests. */
export interface NotifierDeps {
  readonly log: LogSink;
  readonly hostname?: string;
  readonly syslog?: SyslogDeps;
  readonly webhook?: WebhookDeps;
  readonly mqtt?: MqttDeps;
  readonly email?: EmailDeps;
  readonly closeGraceMs?: number;
}

/**
 * A notifier for `config`: one channel per configured key.
 * @example const notifier = createNotifier(config.notify, { log }); notifier.notify(change);
 */
export function createNotifier(config: NotifyConfig, deps: NotifierDeps): Notifier {
  const hostname = deps.hostname === undefined ? {} : { hostname: deps.hostname };
  const channels: NotificationChannel[] = [];
  if (config.syslog !== undefined)
    channels.push(createSyslogChannel({ ...hostname, ...config.syslog }, deps.syslog));
  if (config.webhook !== undefined)
    channels.push(createWebhookChannel(config.webhook, deps.webhook));
  if (config.mqtt !== undefined)
    channels.push(createMqttChannel(config.mqtt, { ...hostname, ...deps.mqtt }));
  if (config.email !== undefined) channels.push(createEmailChannel(config.email, deps.email));
  return createFanOut(channels, deps);
}

interface Lane {
  readonly channel: NotificationChannel;
  readonly pending: StatusChange[];
  running: Promise<void> | undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A notifier over ready channels: each channel gets its own queue, drained one change at a time
 * (in order), at most {@link MAX_PENDING_CHANGES} waiting. Outcomes go to `deps.log` as
 * `notify_delivered` / `notify_failed` / `notify_dropped`, with the channel and status only.
 */
export function createFanOut(
  channels: readonly NotificationChannel[],
  deps: { readonly log: LogSink; readonly closeGraceMs?: number },
): Notifier {
  const lanes: Lane[] = channels.map((channel) => ({ channel, pending: [], running: undefined }));
  let closed = false;

  async function deliver(lane: Lane, change: StatusChange): Promise<void> {
    const fields = { channel: lane.channel.name, status: change.current.status };
    let outcome: Awaited<ReturnType<NotificationChannel['send']>>;
    try {
      outcome = await lane.channel.send(change);
    } catch (err) {
      // The contract says send() never rejects; a channel that does is still contained here.
      outcome = { delivered: false, attempts: 1, error: errorText(err) };
    }
    if (outcome.delivered) {
      deps.log('info', 'notify_delivered', `told the owner by ${lane.channel.name}`, {
        ...fields,
        attempts: outcome.attempts,
      });
    } else {
      deps.log('warn', 'notify_failed', `could not tell the owner by ${lane.channel.name}`, {
        ...fields,
        attempts: outcome.attempts,
        error: outcome.error ?? 'unknown',
      });
    }
  }

  async function drain(lane: Lane): Promise<void> {
    for (let change = lane.pending.shift(); change !== undefined; change = lane.pending.shift())
      await deliver(lane, change);
    lane.running = undefined;
  }

  function enqueue(lane: Lane, change: StatusChange): void {
    if (lane.pending.length >= MAX_PENDING_CHANGES) {
      const dropped = lane.pending.splice(MAX_PENDING_CHANGES - 1, 1)[0];
      deps.log(
        'warn',
        'notify_dropped',
        `${lane.channel.name} is behind: skipped an older change`,
        {
          channel: lane.channel.name,
          status: dropped?.current.status ?? 'unknown',
        },
      );
    }
    lane.pending.push(change);
    lane.running ??= drain(lane);
  }

  async function idle(): Promise<void> {
    for (;;) {
      const running = lanes.map((lane) => lane.running).filter((p) => p !== undefined);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  return {
    channels: channels.map((c) => c.name),
    notify(change) {
      if (closed) return;
      for (const lane of lanes) enqueue(lane, change);
    },
    idle,
    async close() {
      if (closed) return;
      closed = true;
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deps.closeGraceMs ?? CLOSE_GRACE_MS);
      });
      await Promise.race([idle(), grace]);
      clearTimeout(timer);
      for (const lane of lanes) lane.pending.length = 0;
      await Promise.all(
        lanes.map(async (lane) => {
          try {
            await lane.channel.close();
          } catch (err) {
            deps.log('warn', 'notify_close_failed', `${lane.channel.name} did not close cleanly`, {
              channel: lane.channel.name,
              error: errorText(err),
            });
          }
        }),
      );
    },
  };
}
