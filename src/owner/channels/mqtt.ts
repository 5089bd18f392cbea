/**
 * The MQTT channel (publish only): the device as a Home Assistant `problem` binary sensor through
 * MQTT discovery, with its status as JSON attributes and availability through a last will.
 * Topic and payload builders are pure; the client (mqtt.js) lives in the shell below.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import {
  describe,
  integerCheck,
  leaf,
  pathCheck,
  requiredLeaf,
  section,
  textCheck,
  urlCheck,
} from '../../config/checks.ts';
import { formatDeviceName, formatSummary, isProblem } from '../texts.ts';
import type { NotificationChannel, OwnerStatus, StatusChange } from '../types.ts';

/**
 * Home Assistant MQTT discovery, as documented at
 * https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery (topic
 * `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`, retained config payload, ids
 * of `[a-zA-Z0-9_-]`) and https://www.home-assistant.io/integrations/binary_sensor.mqtt/
 * (`device_class`, `state_topic`, `payload_on`/`payload_off` default `ON`/`OFF`,
 * `json_attributes_topic`, `availability_topic` with `payload_available`/`payload_not_available`
 * default `online`/`offline`, retained state so HA shows it at start-up).
 */
export const HA_DISCOVERY_PREFIX = 'homeassistant';
/** Our own topics start here: `tattler/<device-id>/state|attributes|availability`. */
export const MQTT_BASE_TOPIC = 'tattler';
/** Availability payload while the agent runs (HA's default `payload_available`). */
export const AVAILABLE = 'online';
/** Availability payload on close and as the last will (HA's default `payload_not_available`). */
export const NOT_AVAILABLE = 'offline';
/** A device id: HA's node_id alphabet, at most 64 characters. */
const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Where and how to publish; see docs/owner-notifications.md. */
export interface MqttOptions {
  /** `mqtt://host:1883` or `mqtts://host:8883`. */
  readonly url: string;
  readonly username?: string;
  /** Never logged. */
  readonly password?: string;
  /** PEM file of the CA that signed the broker's certificate (mqtts:), beside the system CAs. */
  readonly caFile?: string;
  /** Names the device in topics; default the host name with other characters turned into `_`. */
  readonly deviceId?: string;
  readonly discoveryPrefix: string;
  /** Connect and publish must be done within this, per change. */
  readonly timeoutMs: number;
}

/** Defaults of {@link MqttOptions}. */
export const MQTT_DEFAULTS = Object.freeze({
  discoveryPrefix: HA_DISCOVERY_PREFIX,
  timeoutMs: 10_000,
  /** Reconnect every 5 s after a lost connection (mqtt.js retries for ever). */
  reconnectPeriodMs: 5_000,
});

/** The topics of one device. */
export interface MqttTopics {
  readonly config: string;
  readonly state: string;
  readonly attributes: string;
  readonly availability: string;
}

/** One message to publish: every one is retained, QoS 1. */
export interface MqttMessage {
  readonly topic: string;
  readonly payload: string;
}

/** `a.b-c` → `a_b-c`: a host name as a device id. */
export function toDeviceId(text: string): string {
  const id = text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return id === '' ? 'device' : id;
}

/** The topics for `deviceId` under `discoveryPrefix`. */
export function mqttTopics(deviceId: string, discoveryPrefix = HA_DISCOVERY_PREFIX): MqttTopics {
  if (!DEVICE_ID.test(deviceId))
    throw new RangeError(`deviceId ${JSON.stringify(deviceId)}: expected [A-Za-z0-9_-]{1,64}`);
  const base = `${MQTT_BASE_TOPIC}/${deviceId}`;
  return {
    config: `${discoveryPrefix}/binary_sensor/tattler_${deviceId}/problem/config`,
    state: `${base}/state`,
    attributes: `${base}/attributes`,
    availability: `${base}/availability`,
  };
}

/**
 * The discovery config: a `problem` binary sensor tied to a device block, with state, attributes
 * and availability topics.
 */
export function buildDiscoveryConfig(
  deviceId: string,
  status: OwnerStatus,
  topics: MqttTopics,
): Record<string, unknown> {
  return {
    name: 'Security check',
    unique_id: `tattler_${deviceId}_problem`,
    device_class: 'problem',
    state_topic: topics.state,
    payload_on: 'ON',
    payload_off: 'OFF',
    json_attributes_topic: topics.attributes,
    availability_topic: topics.availability,
    payload_available: AVAILABLE,
    payload_not_available: NOT_AVAILABLE,
    device: {
      identifiers: [`tattler_${deviceId}`],
      name: formatDeviceName(status.device),
      manufacturer: status.device.vendor,
      model: status.device.model,
      sw_version: status.device.softwareVersion,
    },
    origin: { name: 'Tattler agent' },
  };
}

/** `ON` when a FAIL is in force and not overridden (quarantined or would-quarantine), else `OFF`. */
export function problemState(status: OwnerStatus): 'ON' | 'OFF' {
  return isProblem(status.status) ? 'ON' : 'OFF';
}

/** The JSON attributes shown with the sensor. */
export function buildAttributes(change: StatusChange): Record<string, unknown> {
  const s = change.current;
  return {
    status: s.status,
    previous: change.previous,
    reason: change.reason,
    changed_at: change.at,
    ...(s.since === undefined ? {} : { since: s.since }),
    advisories: s.advisories.map((a) => ({
      id: a.id,
      ...(a.cvss === undefined ? {} : { cvss: a.cvss }),
      exploited: a.exploited,
    })),
    fixed_versions: s.fixedVersions,
    update_hosts: s.updateHosts,
    override:
      s.override === undefined
        ? null
        : { reason: s.override.reason, until: s.override.until ?? null },
    mode: s.mode,
    summary: formatSummary(change),
  };
}

/** Every retained message for `change`, in publish order: discovery, attributes, then state. */
export function buildMqttMessages(
  deviceId: string,
  change: StatusChange,
  topics: MqttTopics,
): MqttMessage[] {
  return [
    {
      topic: topics.config,
      payload: JSON.stringify(buildDiscoveryConfig(deviceId, change.current, topics)),
    },
    { topic: topics.attributes, payload: JSON.stringify(buildAttributes(change)) },
    { topic: topics.state, payload: problemState(change.current) },
  ];
}

/** Rejects after `ms` with the message `what()` then, unless `promise` settles first. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(what()));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

/** What the MQTT channel takes from outside. */
export interface MqttDeps {
  /** For the default device id; default the system's host name. */
  readonly hostname?: string;
}

/**
 * An MQTT channel. It connects on the first change, keeps the connection (mqtt.js reconnects),
 * and on every (re)connect publishes `online` and the latest change again, so a restarted broker
 * or Home Assistant catches up. `close()` publishes `offline` and disconnects.
 */
export function createMqttChannel(options: MqttOptions, deps: MqttDeps = {}): NotificationChannel {
  const deviceId = options.deviceId ?? toDeviceId(deps.hostname ?? osHostname());
  const topics = mqttTopics(deviceId, options.discoveryPrefix);
  let client: MqttClient | undefined;
  let starting: Promise<MqttClient> | undefined;
  let latest: StatusChange | undefined;
  let lastError = 'not connected';

  function publish(c: MqttClient, message: MqttMessage): Promise<unknown> {
    return c.publishAsync(message.topic, message.payload, { qos: 1, retain: true });
  }

  async function publishLatest(c: MqttClient): Promise<void> {
    const change = latest;
    if (change === undefined) return;
    for (const message of buildMqttMessages(deviceId, change, topics)) await publish(c, message);
  }

  async function start(): Promise<MqttClient> {
    const ca = options.caFile === undefined ? undefined : await readFile(options.caFile);
    const clientOptions: IClientOptions = {
      clientId: `tattler_${deviceId}`,
      connectTimeout: options.timeoutMs,
      reconnectPeriod: MQTT_DEFAULTS.reconnectPeriodMs,
      // Never queue while offline: on reconnect the latest change is published instead.
      queueQoSZero: false,
      will: {
        topic: topics.availability,
        payload: Buffer.from(NOT_AVAILABLE),
        qos: 1,
        retain: true,
      },
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(ca === undefined ? {} : { ca }),
    };
    const c = connect(options.url, clientOptions);
    c.on('error', (err) => {
      // mqtt.js errors carry no password; the message names the problem (ECONNREFUSED, auth).
      lastError = err.message;
    });
    c.on('connect', () => {
      publish(c, { topic: topics.availability, payload: AVAILABLE })
        .then(() => publishLatest(c))
        .catch((err: unknown) => {
          lastError = err instanceof Error ? err.message : String(err);
        });
    });
    client = c;
    return c;
  }

  function connected(c: MqttClient): Promise<void> {
    if (c.connected) return Promise.resolve();
    return new Promise((resolve) => {
      c.once('connect', () => {
        resolve();
      });
    });
  }

  return {
    name: 'mqtt',
    async send(change) {
      latest = change;
      try {
        starting ??= start().catch((err: unknown) => {
          // Not cached: a CA file that was missing may be there at the next change.
          starting = undefined;
          throw err;
        });
        const c = await starting;
        await withTimeout(
          connected(c).then(() => publishLatest(c)),
          options.timeoutMs,
          () => `not published within ${options.timeoutMs} ms (${lastError})`,
        );
        return { delivered: true, attempts: 1 };
      } catch (err) {
        return {
          delivered: false,
          attempts: 1,
          error: err instanceof Error ? err.message : String(err),
        };
      }
    },
    async close() {
      const c = client;
      if (c === undefined) return;
      try {
        if (c.connected)
          await withTimeout(
            publish(c, { topic: topics.availability, payload: NOT_AVAILABLE }),
            options.timeoutMs,
            () => 'offline not published',
          );
      } catch {
        // Closing anyway: the broker publishes the last will when the connection drops.
      }
      await c.endAsync(!c.connected);
    },
  };
}

// ---- config ------------------------------------------------------------------------------------

const brokerUrlCheck = urlCheck({
  protocols: ['mqtt:', 'mqtts:'],
  example: 'mqtt://192.168.1.10:1883 or mqtts://broker.home.arpa:8883',
  credentialsFix: 'use username and password',
});

/** The `notify.mqtt` section: YAML → {@link MqttOptions}. */
export const mqttConfigSchema = section(
  {
    url: requiredLeaf(brokerUrlCheck, 'url: mqtt://192.168.1.10:1883'),
    username: leaf(textCheck({ maxBytes: 256, example: 'tattler' })),
    password: leaf((input, fail) =>
      typeof input === 'string' && input !== '' && Buffer.byteLength(input) <= 1024
        ? input
        : fail('is not a password — write it as quoted text of at most 1024 bytes'),
    ),
    caFile: leaf(pathCheck('/etc/tattler/broker-ca.pem')),
    deviceId: leaf((input, fail) =>
      typeof input === 'string' && DEVICE_ID.test(input)
        ? input
        : fail(
            `${describe(input)} is not a device id — use letters, digits, _ and -, at most 64, e.g. garden_camera`,
          ),
    ),
    discoveryPrefix: leaf((input, fail) =>
      typeof input === 'string' &&
      /^[A-Za-z0-9_/-]{1,64}$/.test(input) &&
      !input.startsWith('/') &&
      !input.endsWith('/')
        ? input
        : fail(
            `${describe(input)} is not a topic prefix — write Home Assistant's discovery prefix, e.g. homeassistant`,
          ),
    ),
    timeoutSeconds: leaf(integerCheck({ min: 1, max: 120, example: '10' })),
  },
  '{url: mqtt://192.168.1.10:1883}',
)
  .superRefine((parsed, ctx) => {
    if (parsed.password !== undefined && parsed.username === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['username'],
        message: 'missing while password is set — add username',
      });
    if (parsed.caFile !== undefined && !parsed.url.startsWith('mqtts:'))
      ctx.addIssue({
        code: 'custom',
        path: ['caFile'],
        message: 'only used with an mqtts: URL — use mqtts://, or remove caFile',
      });
  })
  .transform((parsed): MqttOptions => ({
    url: parsed.url,
    ...(parsed.username === undefined ? {} : { username: parsed.username }),
    ...(parsed.password === undefined ? {} : { password: parsed.password }),
    ...(parsed.caFile === undefined ? {} : { caFile: parsed.caFile }),
    ...(parsed.deviceId === undefined ? {} : { deviceId: parsed.deviceId }),
    discoveryPrefix: parsed.discoveryPrefix ?? MQTT_DEFAULTS.discoveryPrefix,
    timeoutMs: (parsed.timeoutSeconds ?? MQTT_DEFAULTS.timeoutMs / 1000) * 1000,
  }));
