import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectAsync, type MqttClient } from 'mqtt';
import { problemsOf } from '../../config/config-file.ts';
import { checkTool, runTool } from '../../testing/external-tool.ts';
import { FIXED, QUARANTINED } from '../../testing/owner-changes.ts';
import {
  MQTT_DEFAULTS,
  buildAttributes,
  buildDiscoveryConfig,
  createMqttChannel,
  mqttConfigSchema,
  mqttTopics,
  toDeviceId,
} from './mqtt.ts';

const mosquittoMissing = await checkTool('mosquitto', ['-h'], {
  installHint: 'the Debian package mosquitto',
});
const tlsMissing =
  mosquittoMissing ??
  (await checkTool('openssl', ['version'], {
    installHint: 'the Debian package openssl',
    exitCodes: [0],
  })) ??
  (await checkTool('mosquitto_passwd', ['-h'], { installHint: 'the Debian package mosquitto' }));
const TOPICS = mqttTopics('cam1');
const BROKER_USER = 'tattler';
const BROKER_PASSWORD = 'broker-pass-123';

let broker: ChildProcess | undefined;
let directory: string | undefined;
/** The anonymous plain listener. */
let url = '';
/** The TLS listener that wants BROKER_USER / BROKER_PASSWORD, and the CA that signed it. */
let tlsUrl = '';
let caFile = '';

/** Runs a setup tool and insists on exit code 0. */
async function runOk(file: string, args: string[]): Promise<void> {
  const result = await runTool(file, args, { timeoutMs: 10_000 });
  assert.equal(result.exitCode, 0, `${file}: ${result.stderr}`);
}

/** A free loopback TCP port (closed again before mosquitto binds it). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

before(async () => {
  if (mosquittoMissing !== undefined) return;
  const dir = await mkdtemp(join(tmpdir(), 'tattler-mqtt-'));
  directory = dir;
  const port = await freePort();
  // `user root`: a broker started as root keeps it (and can read these files); ignored otherwise.
  const lines = ['per_listener_settings true', 'persistence false', 'user root'];
  lines.push(`listener ${port} 127.0.0.1`, 'allow_anonymous true');
  if (tlsMissing === undefined) {
    const tlsPort = await freePort();
    caFile = join(dir, 'broker.pem');
    // A self-signed certificate for 127.0.0.1 that is its own CA (caFile of the channel).
    await runOk('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'broker.key'),
      '-out',
      caFile,
    ]);
    await runOk('mosquitto_passwd', [
      '-b',
      '-c',
      join(dir, 'passwd'),
      BROKER_USER,
      BROKER_PASSWORD,
    ]);
    lines.push(
      `listener ${tlsPort} 127.0.0.1`,
      `certfile ${caFile}`,
      `keyfile ${join(dir, 'broker.key')}`,
      'allow_anonymous false',
      `password_file ${join(dir, 'passwd')}`,
    );
    tlsUrl = `mqtts://127.0.0.1:${tlsPort}`;
  }
  const config = join(dir, 'mosquitto.conf');
  await writeFile(config, `${lines.join('\n')}\n`);
  broker = spawn('mosquitto', ['-c', config], { stdio: 'ignore' });
  url = `mqtt://127.0.0.1:${port}`;
  // Ready when a client gets in (mqtt.js retries every 50 ms until the broker listens).
  const probe = await connectAsync(url, { reconnectPeriod: 50, connectTimeout: 5_000 });
  await probe.endAsync();
});

after(async () => {
  if (broker !== undefined && broker.exitCode === null) {
    broker.kill('SIGTERM');
    await once(broker, 'exit');
  }
  if (directory !== undefined) await rm(directory, { recursive: true, force: true });
});

/** One received message. */
interface Message {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

/** A subscriber that records what it gets and resolves `until(n)` once n messages are in. */
async function subscribe(
  topics: string[],
): Promise<{ client: MqttClient; messages: Message[]; until: (n: number) => Promise<Message[]> }> {
  const client = await connectAsync(url, { reconnectPeriod: 0 });
  const messages: Message[] = [];
  let waiting: { n: number; resolve: (m: Message[]) => void } | undefined;
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString('utf8'), retain: packet.retain });
    if (waiting !== undefined && messages.length >= waiting.n) waiting.resolve(messages);
  });
  await client.subscribeAsync(topics, { qos: 1 });
  return {
    client,
    messages,
    until: (n) =>
      messages.length >= n
        ? Promise.resolve(messages)
        : new Promise((resolve) => {
            waiting = { n, resolve };
          }),
  };
}

function byTopic(messages: readonly Message[], topic: string): Message | undefined {
  return messages.findLast((m) => m.topic === topic);
}

test('mqttTopics() follows the documented layout', () => {
  assert.deepEqual(TOPICS, {
    config: 'homeassistant/binary_sensor/tattler_cam1/problem/config',
    state: 'tattler/cam1/state',
    attributes: 'tattler/cam1/attributes',
    availability: 'tattler/cam1/availability',
  });
  assert.equal(toDeviceId('cam-1.home.arpa'), 'cam-1_home_arpa');
  assert.throws(() => mqttTopics('a/b'), RangeError);
});

test(
  'mqtt: discovery, attributes, state and availability are retained on a real mosquitto; OFF after a fix; offline on close',
  { skip: mosquittoMissing },
  async () => {
    const channel = createMqttChannel({
      url,
      deviceId: 'cam1',
      discoveryPrefix: 'homeassistant',
      timeoutMs: 5_000,
    });
    assert.deepEqual(await channel.send(QUARANTINED), { delivered: true, attempts: 1 });

    // A subscriber that comes later (Home Assistant starting) gets everything, retained.
    const late = await subscribe(['homeassistant/#', 'tattler/#']);
    const retained = await late.until(4);
    assert.ok(retained.every((m) => m.retain));
    const config: unknown = JSON.parse(byTopic(retained, TOPICS.config)?.payload ?? 'null');
    assert.deepEqual(config, buildDiscoveryConfig('cam1', QUARANTINED.current, TOPICS));
    assert.deepEqual(config, {
      name: 'Security check',
      unique_id: 'tattler_cam1_problem',
      device_class: 'problem',
      state_topic: 'tattler/cam1/state',
      payload_on: 'ON',
      payload_off: 'OFF',
      json_attributes_topic: 'tattler/cam1/attributes',
      availability_topic: 'tattler/cam1/availability',
      payload_available: 'online',
      payload_not_available: 'offline',
      device: {
        identifiers: ['tattler_cam1'],
        name: 'D-Link DIR-859',
        manufacturer: 'D-Link',
        model: 'DIR-859',
        sw_version: '1.05B03',
      },
      origin: { name: 'Tattler agent' },
    });
    assert.equal(byTopic(retained, TOPICS.state)?.payload, 'ON');
    assert.equal(byTopic(retained, TOPICS.availability)?.payload, 'online');
    const attributes = JSON.parse(
      byTopic(retained, TOPICS.attributes)?.payload ?? 'null',
    ) as Record<string, unknown>;
    assert.deepEqual(attributes, JSON.parse(JSON.stringify(buildAttributes(QUARANTINED))));
    assert.equal(attributes['status'], 'quarantined');
    assert.deepEqual(attributes['advisories'], [
      { id: 'CVE-2019-17621', cvss: 9.8, exploited: true },
    ]);
    assert.deepEqual(attributes['fixed_versions'], ['1.06']);
    assert.deepEqual(attributes['update_hosts'], ['support.dlink.com']);
    assert.equal(attributes['override'], null);

    // A fix: the live subscriber sees state OFF (and the new firmware in the device block).
    const seen = late.messages.length;
    assert.deepEqual(await channel.send(FIXED), { delivered: true, attempts: 1 });
    const live = (await late.until(seen + 3)).slice(seen);
    assert.equal(byTopic(live, TOPICS.state)?.payload, 'OFF');
    assert.match(byTopic(live, TOPICS.config)?.payload ?? '', /"sw_version":"1.06B01"/);

    const before = late.messages.length;
    await channel.close();
    const [offline] = (await late.until(before + 1)).slice(before);
    assert.deepEqual(offline, { topic: TOPICS.availability, payload: 'offline', retain: false });
    await late.client.endAsync();
  },
);

test(
  'mqtt: the broker publishes the last will "offline" when the agent dies without closing',
  { skip: mosquittoMissing },
  async () => {
    const watcher = await subscribe(['tattler/cam3/availability']);
    const module = new URL('./mqtt.js', import.meta.url).href;
    const options = { url, deviceId: 'cam3', discoveryPrefix: 'homeassistant', timeoutMs: 5_000 };
    // A separate process, so SIGKILL drops its TCP connection without an MQTT DISCONNECT.
    const script = [
      `const { createMqttChannel } = await import(${JSON.stringify(module)});`,
      `const channel = createMqttChannel(${JSON.stringify(options)});`,
      `const outcome = await channel.send(${JSON.stringify(QUARANTINED)});`,
      'process.stdout.write(JSON.stringify(outcome) + "\\n");',
      'setInterval(() => {}, 60_000);',
    ].join('\n');
    const agent = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const exited = once(agent, 'exit').then(([code]) => {
        throw new Error(`the agent process exited (${String(code)}) before publishing`);
      });
      const [output] = (await Promise.race([once(agent.stdout, 'data'), exited])) as [Buffer];
      exited.catch(() => undefined);
      assert.deepEqual(JSON.parse(output.toString('utf8')), { delivered: true, attempts: 1 });
      await watcher.until(1);
      assert.equal(watcher.messages.at(-1)?.payload, 'online');
      agent.kill('SIGKILL');
      const messages = await watcher.until(2);
      assert.equal(messages.at(-1)?.payload, 'offline');
    } finally {
      if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
      await watcher.client.endAsync();
    }
  },
);

test(
  'mqtt: mqtts with caFile and a password publishes; a wrong password is refused',
  { skip: tlsMissing },
  async () => {
    const options = {
      url: tlsUrl,
      username: BROKER_USER,
      caFile,
      deviceId: 'cam4',
      discoveryPrefix: 'homeassistant',
      timeoutMs: 5_000,
    };
    const channel = createMqttChannel({ ...options, password: BROKER_PASSWORD });
    assert.deepEqual(await channel.send(QUARANTINED), { delivered: true, attempts: 1 });
    await channel.close();
    const watcher = await subscribe(['tattler/cam4/state']);
    assert.deepEqual(await watcher.until(1), [
      { topic: 'tattler/cam4/state', payload: 'ON', retain: true },
    ]);
    await watcher.client.endAsync();

    const wrong = createMqttChannel({ ...options, password: 'not-the-password', timeoutMs: 500 });
    const outcome = await wrong.send(QUARANTINED);
    await wrong.close();
    assert.equal(outcome.delivered, false);
    assert.match(outcome.error ?? '', /Not authorized|Bad user name or password/i);
    assert.doesNotMatch(outcome.error ?? '', /not-the-password/);
  },
);

test(
  'mqtt: an unreachable broker is reported within the timeout, not waited for',
  { skip: mosquittoMissing },
  async () => {
    const port = await freePort();
    const channel = createMqttChannel({
      url: `mqtt://127.0.0.1:${port}`,
      deviceId: 'cam2',
      discoveryPrefix: 'homeassistant',
      timeoutMs: 300,
    });
    const outcome = await channel.send(QUARANTINED);
    assert.equal(outcome.delivered, false);
    assert.match(outcome.error ?? '', /not published within 300 ms \(.*ECONNREFUSED/);
    await channel.close();
  },
);

test('mqtt: a missing caFile is reported on send, and tried again on the next', async () => {
  const channel = createMqttChannel({
    url: 'mqtts://127.0.0.1:1',
    caFile: '/nonexistent/tattler-ca.pem',
    deviceId: 'cam5',
    discoveryPrefix: 'homeassistant',
    timeoutMs: 200,
  });
  for (let i = 0; i < 2; i++) {
    const outcome = await channel.send(QUARANTINED);
    assert.equal(outcome.delivered, false);
    assert.match(outcome.error ?? '', /ENOENT/);
  }
  await channel.close();
});

test('mqttConfigSchema checks the URL scheme, credentials and caFile', () => {
  assert.deepEqual(
    mqttConfigSchema.parse({
      url: 'mqtts://broker.home.arpa:8883',
      username: 'tattler',
      password: 'pw',
      caFile: 'ca.pem',
    }),
    {
      url: 'mqtts://broker.home.arpa:8883',
      username: 'tattler',
      password: 'pw',
      caFile: 'ca.pem',
      discoveryPrefix: 'homeassistant',
      timeoutMs: MQTT_DEFAULTS.timeoutMs,
    },
  );
  const bad = mqttConfigSchema.safeParse({ url: 'http://broker', deviceId: 'a b' });
  assert.ok(!bad.success);
  assert.deepEqual(new Set(problemsOf(bad.error).map((p) => p.path)), new Set(['url', 'deviceId']));
  const plainCa = mqttConfigSchema.safeParse({
    url: 'mqtt://broker',
    password: 'secret-pw',
    caFile: 'ca.pem',
  });
  assert.ok(!plainCa.success);
  const problems = problemsOf(plainCa.error);
  assert.deepEqual(new Set(problems.map((p) => p.path)), new Set(['username', 'caFile']));
  assert.ok(problems.every((p) => !p.message.includes('secret-pw')));
});
