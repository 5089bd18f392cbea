/**
 * The live collector on IPv4 and IPv6 at once: each family answers on its own socket, and each
 * verdict names the address the request reached and the address it came from ([P-6.1-1]).
 * @module
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeResponse, formatIp, verifySign1 } from '../protocol/index.ts';
import { NOW_MS, identifiedRequest, requestBytes, writeCollectorDir } from '../testing/collector-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { loadCollectorConfig } from './config.ts';
import { startCollector } from './udp.ts';

async function ask(family: 'udp4' | 'udp6', host: string, port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const client: Socket = createSocket(family);
  client.bind(0, host);
  await once(client, 'listening');
  try {
    const answered = once(client, 'message') as Promise<[Buffer]>;
    client.send(bytes, port, host);
    const [reply] = await answered;
    return new Uint8Array(reply);
  } finally {
    client.close();
  }
}

test('startCollector() serves IPv4 and IPv6 listeners at once, each verdict bound to its own addresses', async (t) => {
  const probe = createSocket('udp6');
  const hasIpv6 = await new Promise<boolean>((resolve) => {
    probe.once('error', () => {
      resolve(false);
    });
    probe.bind(0, '::1', () => {
      resolve(true);
    });
  });
  probe.close();
  if (!hasIpv6) {
    t.skip('no IPv6 loopback (::1) on this machine');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'tattler-dual-'));
  try {
    const configPath = await writeCollectorDir(dir);
    const text = await readFile(configPath, 'utf8');
    await writeFile(configPath, text.replace('listen: [{address: 127.0.0.1, port: 0}]', 'listen: [{address: 127.0.0.1, port: 0}, {address: "::1", port: 0}]'));
    const running = await startCollector(await loadCollectorConfig(configPath), { now: () => NOW_MS, log: () => undefined });
    try {
      const addresses = running.addresses();
      assert.equal(addresses.length, 2);
      for (const { family, host } of [
        { family: 'udp4', host: '127.0.0.1' },
        { family: 'udp6', host: '::1' },
      ] as const) {
        const port = addresses.find((a) => a.address === host)?.port;
        assert.ok(port !== undefined, `listening on ${host}`);
        const request = requestBytes(identifiedRequest(), 9);
        const reply = await ask(family, host, port, request);
        assert.ok(reply.byteLength <= request.byteLength);
        const { response } = decodeResponse(reply);
        if (response.kind !== 'verdict') assert.fail(`expected a signed verdict, got ${response.kind}`);
        assert.equal(response.verdict.value.status, 'fail');
        assert.equal(formatIp(response.verdict.value.destination), host);
        assert.equal(formatIp(response.verdict.value.source), host);
        assert.ok(verifySign1(response.verdict.sign1, TRUST_KEYS.collector.publicKey));
      }
    } finally {
      await running.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
