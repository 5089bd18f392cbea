/**
 * The live collector on a feed built the way an operator builds one: `tattler feed import` of the
 * real NVD, KEV and CSAF records in vectors/feeds/, then `tattler feed build`, served over real
 * UDP on the real clock; every answer checked by the device's full acceptance rule.
 * @module
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodePrivateKeyPem } from '../crypto/index.ts';
import { acceptAnswer, bucketPrefix, canonicalName, modelHash, type DecodedResponse, type Request, type Status } from '../protocol/index.ts';
import { runCli } from '../testing/cli-run.ts';
import { NONCE, deviceContext, identifiedRequest, requestBytes } from '../testing/collector-fixture.ts';
import { startLiveCollector, type LiveCollector } from '../testing/live-collector.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';

const FEEDS = fileURLToPath(new URL('../../vectors/feeds/', import.meta.url));
const LOOPBACK = Uint8Array.of(127, 0, 0, 1);
let live: LiveCollector | undefined;
const nowSeconds = Math.floor(Date.now() / 1000);

before(async () => {
  live = await startLiveCollector({
    nowSeconds,
    // The collector serves the feed an operator would build from the real records.
    prepare: async (dir) => {
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
      const built = await runCli(['feed', 'build', '--db', db, '--signing-key', feedKey, '--out', join(dir, 'bundle.cbor')]);
      assert.equal(built.code, 0, built.err);
    },
    deps: { log: () => undefined },
  });
});

after(async () => {
  await live?.close();
});

async function ask(bytes: Uint8Array): Promise<DecodedResponse> {
  assert.ok(live !== undefined, 'collector started');
  return (await live.ask(bytes)).answer;
}

function certificateBytes(): Uint8Array {
  assert.ok(live !== undefined, 'collector started');
  return live.certificate;
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
    const context = deviceContext({ mode: 'identified', quarantined: true, certificate: certificateBytes(), collector: LOOPBACK, scopeAddress: LOOPBACK, nowSeconds });
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
    const context = deviceContext({ mode: 'private', certificate: certificateBytes(), collector: LOOPBACK, scopeAddress: LOOPBACK, nowSeconds });
    const accepted = acceptAnswer(answer, { ...context, device: { vendor, model, swVersion, scopeAddress: LOOPBACK } });
    assert.ok(accepted.accept, `${vendor} ${model} ${swVersion}: refused ${accepted.accept ? '' : accepted.reason}`);
    assert.equal(accepted.status, status, `${vendor} ${model} ${swVersion}`);
  }
});
