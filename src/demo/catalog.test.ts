/**
 * The demo catalog against the real system: the demo's data and config (setup.ts), a live
 * collector on loopback, and for every entry the announcement its agent sends, decided by the
 * device's acceptance rule. The demo's "wrongly quarantined" and "missed" counts rest on this.
 * @module
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadCollectorConfig } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/udp.ts';
import {
  acceptAnswer,
  bucketPrefix,
  canonicalName,
  combinePrivatePages,
  decodeCbor,
  decodeResponse,
  encodeRequest,
  modelHash,
  readKeyCertificate,
  readRoot,
  trustAnchorsOf,
  type Accepted,
  type Acceptance,
  type Request,
  type Status,
} from '../protocol/index.ts';
import { addRequest, openNonceBook } from '../protocol/nonce-book.ts';
import { SignatureBudget } from '../protocol/signature-budget.ts';
import { DEMO_CATALOG, demoDevices, MAX_DEMO_DEVICES } from './catalog.ts';
import { prepareDemoData, writeDemoCollectorConfig, type DemoFiles } from './setup.ts';
import type { DemoDevice } from './types.ts';

const LOOPBACK = Uint8Array.of(127, 0, 0, 1);
const T0_MS = 5_000;
const nowSeconds = Math.floor(Date.now() / 1000);

interface Live {
  readonly tmp: string;
  readonly files: DemoFiles;
  readonly collector: RunningCollector;
  readonly client: Socket;
  readonly port: number;
  readonly root: ReturnType<typeof readRoot>;
  readonly certificate: ReturnType<typeof readKeyCertificate>;
}
let live: Live | undefined;

before(async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'tattler-demo-catalog-'));
  const files = await prepareDemoData(join(tmp, 'demo-data'), { nowSeconds, progress: () => undefined });
  const config = await writeDemoCollectorConfig(files, { listen: [{ address: '127.0.0.1', port: 0 }], httpPort: 0 });
  const collector = await startCollector(await loadCollectorConfig(config), { log: () => undefined });
  const client = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  const port = collector.addresses()[0]?.port ?? 0;
  assert.ok(port > 0, 'collector bound');
  const root = readRoot(decodeCbor(new Uint8Array(await readFile(files.rootPath))));
  const certificate = readKeyCertificate(decodeCbor(new Uint8Array(await readFile(files.certificatePath))));
  live = { tmp, files, collector, client, port, root, certificate };
});

after(async () => {
  if (live === undefined) return;
  await live.collector.close();
  live.client.close();
  await rm(live.tmp, { recursive: true, force: true });
});

/** Sends one request as the device's agent would and applies the device's acceptance rule. */
async function announce(device: DemoDevice, request: Request, quarantined: boolean): Promise<Acceptance> {
  assert.ok(live !== undefined, 'collector started');
  const token = new Uint8Array(randomBytes(8));
  const mode = request.kind === 'private' ? 'private' : 'identified';
  const collector = live.collector;
  const replies = (): number => collector.counters().get('replies') ?? 0;
  const before = replies();
  const answered = once(live.client, 'message') as Promise<[Buffer]>;
  const handled = once(collector.events, 'handled').then(async () => {
    if (replies() > before) return answered;
    // Handled without an answer: fail now, naming the drop codes, not at the test's timeout.
    const drops = [...collector.counters()].filter(([k, v]) => /^[A-Z_]+$/.test(k) && v > 0);
    throw new Error(`${device.name}: no answer; drops so far: ${JSON.stringify(drops)}`);
  });
  live.client.send(encodeRequest(request, { messageId: 7, token }), live.port, '127.0.0.1');
  const [reply] = await Promise.race([answered, handled]);
  const nonce = request.kind === 'private' || request.kind === 'identified' ? request.nonce : new Uint8Array(16);
  const book = addRequest(openNonceBook(T0_MS), { attempt: 0, destination: LOOPBACK, token, nonce, mode, quarantined });
  return acceptAnswer(decodeResponse(new Uint8Array(reply)), {
    from: LOOPBACK,
    nowMs: T0_MS + 200,
    time: { floorSeconds: nowSeconds - 86_400, wallSeconds: nowSeconds },
    book,
    anchors: trustAnchorsOf(live.root.value),
    certificates: [live.certificate],
    device: {
      vendor: canonicalName(device.vendor),
      model: canonicalName(device.model),
      swVersion: device.firmware,
      scopeAddress: LOOPBACK,
      ...(device.hardwareVersion === undefined ? {} : { hwVersion: device.hardwareVersion }),
    },
    budget: new SignatureBudget(),
  });
}

function accepted(device: DemoDevice, result: Acceptance): Accepted {
  assert.ok(result.accept, `${device.name}: answer refused: ${result.accept ? '' : `${result.reason}: ${result.detail}`}`);
  return result;
}

/** The status `device` (running `firmware`) reaches: one identified answer, or every page of its bucket. */
async function decide(device: DemoDevice, options: { firmware?: string; quarantined?: boolean } = {}): Promise<Status> {
  const d = { ...device, firmware: options.firmware ?? device.firmware };
  const quarantined = options.quarantined ?? false;
  const vendor = canonicalName(d.vendor);
  const model = canonicalName(d.model);
  if (d.mode === 'identified') {
    const request: Request = {
      kind: 'identified',
      nonce: new Uint8Array(randomBytes(16)),
      vendor,
      model,
      swName: 'firmware',
      swVersion: { version: d.firmware },
      ...(d.hardwareVersion === undefined ? {} : { hwVersion: { version: d.hardwareVersion } }),
      quarantined,
    };
    return accepted(d, await announce(d, request, quarantined)).status;
  }
  const prefix = bucketPrefix(modelHash(vendor, model));
  const pages: Accepted[] = [];
  for (let page = 0; ; page += 1) {
    const answer = accepted(d, await announce(d, { kind: 'private', nonce: new Uint8Array(randomBytes(16)), prefix, page }, quarantined));
    pages.push(answer);
    if (answer.status === 'fail' || page + 1 >= (answer.pages ?? 1)) break;
  }
  const decision = combinePrivatePages(pages);
  assert.ok(decision !== undefined, `${d.name}: every page of its bucket decides`);
  return decision.status;
}

test('DEMO_CATALOG: every entry reaches its expected status with the demo feed and a live collector', { timeout: 60_000 }, async () => {
  const wrong: string[] = [];
  for (const device of DEMO_CATALOG) {
    const status = await decide(device);
    if (status !== device.expected) wrong.push(`${device.name} (${device.vendor} ${device.model} ${device.firmware}, ${device.mode}): expected ${device.expected}, got ${status}`);
  }
  assert.deepEqual(wrong, []);
});

test('DEMO_CATALOG: a FAIL device updated to its fixed firmware is answered PASS, also while quarantined', { timeout: 30_000 }, async () => {
  const fixable = DEMO_CATALOG.filter((d) => d.fixedFirmware !== undefined);
  assert.ok(fixable.length >= 2);
  for (const device of fixable) {
    assert.equal(device.expected, 'fail', `${device.name}: only FAIL devices name a fixed build`);
    assert.equal(await decide(device, { firmware: device.fixedFirmware ?? '', quarantined: true }), 'pass', device.name);
  }
});

function mix(devices: readonly DemoDevice[]): { statuses: Set<string>; modes: Set<string>; models: Set<string>; fixableFails: number } {
  return {
    statuses: new Set(devices.map((d) => d.expected)),
    modes: new Set(devices.map((d) => d.mode)),
    models: new Set(devices.map((d) => `${canonicalName(d.vendor)}/${canonicalName(d.model)}`)),
    fixableFails: devices.filter((d) => d.expected === 'fail' && d.fixedFirmware !== undefined).length,
  };
}

test('demoDevices() meets the mix rules for every count from 8 to 3 cycles of the catalog', () => {
  for (let count = 8; count <= 3 * DEMO_CATALOG.length; count += 1) {
    const m = mix(demoDevices(count));
    assert.deepEqual([...m.statuses].sort(), ['fail', 'pass', 'unknown', 'warn'], `count ${count}: statuses`);
    assert.equal(m.modes.size, 2, `count ${count}: both modes`);
    assert.ok(m.fixableFails >= 2, `count ${count}: FAIL devices with a fixed build`);
    if (count >= 20) assert.ok(m.models.size >= 8, `count ${count}: ${m.models.size} models`);
  }
  assert.ok(DEMO_CATALOG.length >= 10 && mix(DEMO_CATALOG).models.size >= 8);
});

test('demoDevices() names are unique and [a-z0-9-]{1,24}, the first cycle as in DEMO_CATALOG', () => {
  for (const count of [1, 8, 20, 100, MAX_DEMO_DEVICES]) {
    const devices = demoDevices(count);
    assert.equal(devices.length, count);
    assert.equal(new Set(devices.map((d) => d.name)).size, count, `count ${count}: unique`);
    for (const d of devices) assert.match(d.name, /^[a-z0-9-]{1,24}$/);
  }
  assert.deepEqual(demoDevices(DEMO_CATALOG.length), DEMO_CATALOG);
  assert.equal(demoDevices(1)[0]?.name, DEMO_CATALOG[0]?.name);
  for (const bad of [0, -1, 1.5, MAX_DEMO_DEVICES + 1, Number.NaN]) assert.throws(() => demoDevices(bad), RangeError);
});
