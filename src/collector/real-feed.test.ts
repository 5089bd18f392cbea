/**
 * The live collector on a feed built the way an operator builds one: `tattler feed import` of the
 * real NVD, KEV and CSAF records in vectors/feeds/, then `tattler feed build`, served over real
 * UDP on the real clock; every answer checked by the device's full acceptance rule.
 * @module
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodePrivateKeyPem } from '../crypto/index.ts';
import { acceptAnswer, bucketPrefix, canonicalName, decodeResponse, modelHash, type DecodedResponse, type Request, type Status } from '../protocol/index.ts';
import { runCli } from '../testing/cli-run.ts';
import { NONCE, deviceContext, identifiedRequest, requestBytes, writeCollectorDir } from '../testing/collector-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { loadCollectorConfig } from './config.ts';
import { startCollector, type RunningCollector } from './udp.ts';

const FEEDS = fileURLToPath(new URL('../../vectors/feeds/', import.meta.url));
const LOOPBACK = Uint8Array.of(127, 0, 0, 1);
let dir = '';
let collector: RunningCollector | undefined;
let client: Socket | undefined;
let certificate = new Uint8Array(0);
const nowSeconds = Math.floor(Date.now() / 1000);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-real-feed-'));
  const db = join(dir, 'feed.db');
  const imported = await runCli([
    'feed', 'import', '--db', db, '--quiet',
    '--nvd', join(FEEDS, 'nvd'),
    '--kev', join(FEEDS, 'kev', 'known_exploited_vulnerabilities.json'),
    '--csaf', join(FEEDS, 'csaf'),
  ]);
  assert.equal(imported.code, 0, imported.err);
  // The feed key the fixtures' root authorises.
  const feedKey = join(dir, 'feed.key');
  await writeFile(feedKey, encodePrivateKeyPem(TRUST_KEYS.feed), { mode: 0o600 });
  const built = await runCli(['feed', 'build', '--db', db, '--signing-key', feedKey, '--out', join(dir, 'built.bundle')]);
  assert.equal(built.code, 0, built.err);
  const config = await writeCollectorDir(dir, [], { nowSeconds });
  await copyFile(join(dir, 'built.bundle'), join(dir, 'bundle.cbor'));
  certificate = new Uint8Array(await readFile(join(dir, 'collector.cert.cbor')));
  collector = await startCollector(await loadCollectorConfig(config), { log: () => undefined });
  client = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
});

after(async () => {
  await collector?.close();
  client?.close();
  await rm(dir, { recursive: true, force: true });
});

async function ask(bytes: Uint8Array): Promise<DecodedResponse> {
  assert.ok(collector !== undefined && client !== undefined);
  const answered = once(client, 'message') as Promise<[Buffer]>;
  client.send(bytes, collector.addresses()[0]?.port ?? 0, '127.0.0.1');
  const replies = collector.counters().get('replies') ?? 0;
  const handled = once(collector.events, 'handled').then(() => {
    const running = collector;
    if (running === undefined || (running.counters().get('replies') ?? 0) > replies) return answered;
    // Handled without an answer: fail now, naming the drop codes, instead of at the timeout.
    const drops = [...running.counters()].filter(([k, v]) => /^[A-Z_]+$/.test(k) && v > 0);
    throw new Error(`no answer; drops so far: ${JSON.stringify(drops)}`);
  });
  const [reply] = await Promise.race([answered, handled]);
  assert.ok(reply.byteLength <= bytes.byteLength, 'BAF ≤ 1');
  return decodeResponse(new Uint8Array(reply));
}

test('real feed: FAIL, WARN, PASS and UNKNOWN for real devices, each accepted by the acceptance rule', { timeout: 30_000 }, async () => {
  const cases: [string, Parameters<typeof identifiedRequest>[0], Status, string | undefined][] = [
    // NVD CVE-2018-14933, in the KEV catalog of vectors/feeds/kev, exact version: quarantine-eligible.
    ['NUUO NVRmini 2016', { vendor: canonicalName('NUUO'), model: canonicalName('NVRmini'), swVersion: { version: '2016' } }, 'fail', 'CVE-2018-14933'],
    // NVD CVE-2019-17621 (≤ 1.05b03), not in that KEV catalog: listed, not eligible.
    ['D-Link DIR-859 1.05B03', { vendor: canonicalName('D-Link'), model: canonicalName('DIR-859'), swVersion: { version: '1.05B03' } }, 'warn', 'CVE-2019-17621'],
    // NVD CVE-2016-9361 (Moxa NPort 5110 firmware ≤ 2.5), not in KEV: listed, not eligible.
    ['Moxa NPort 5110 2.2', { vendor: canonicalName('Moxa'), model: canonicalName('NPort 5110'), swVersion: { version: '2.2' } }, 'warn', 'CVE-2016-9361'],
    ['D-Link DIR-859 1.06B01 (fixed)', { vendor: canonicalName('D-Link'), model: canonicalName('DIR-859'), swVersion: { version: '1.06B01' } }, 'pass', undefined],
    ['D-Link DIR-859L (not in the feed)', { vendor: canonicalName('D-Link'), model: canonicalName('DIR-859L'), swVersion: { version: '1.05' } }, 'unknown', undefined],
  ];
  for (const [name, overrides, status, advisory] of cases) {
    const request = identifiedRequest({ ...overrides, quarantined: true });
    const answer = await ask(requestBytes(request));
    const context = deviceContext({ mode: 'identified', quarantined: true, certificate, collector: LOOPBACK, scopeAddress: LOOPBACK, nowSeconds });
    const accepted = acceptAnswer(answer, {
      ...context,
      device: { vendor: request.vendor, model: request.model, swVersion: request.swVersion.version, scopeAddress: LOOPBACK, ...(request.hwVersion === undefined ? {} : { hwVersion: request.hwVersion.version }) },
    });
    assert.ok(accepted.accept, `${name}: refused ${accepted.accept ? '' : accepted.reason}`);
    assert.equal(accepted.status, status, name);
    const r = answer.response;
    assert.ok(r.kind === 'verdict', `${name}: a quarantined device gets signed answers`);
    assert.deepEqual(r.verdict.value.record?.value.advisories.includes(advisory ?? ''), advisory === undefined ? undefined : true, name);
  }
});

test('real feed: private mode: the device decides from its bucket page alone', { timeout: 30_000 }, async () => {
  const devices: [string, string, string, Status][] = [
    ['nuuo', 'nvrmini', '2016', 'fail'],
    ['nuuo', 'nvrmini', '2017', 'pass'],
    ['dlink', 'dir859', '1.05B03', 'warn'],
    ['dlink', 'dir859', '1.06B01', 'pass'],
  ];
  for (const [vendor, model, swVersion, status] of devices) {
    const request: Request = { kind: 'private', nonce: NONCE, prefix: bucketPrefix(modelHash(vendor, model)), page: 0 };
    const answer = await ask(requestBytes(request));
    const context = deviceContext({ mode: 'private', certificate, collector: LOOPBACK, scopeAddress: LOOPBACK, nowSeconds });
    const accepted = acceptAnswer(answer, { ...context, device: { vendor, model, swVersion, scopeAddress: LOOPBACK } });
    assert.ok(accepted.accept, `${vendor} ${model} ${swVersion}: refused ${accepted.accept ? '' : accepted.reason}`);
    assert.equal(accepted.status, status, `${vendor} ${model} ${swVersion}`);
  }
});
