import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encodePrivateKeyPem } from '../crypto/index.ts';
import { decodeResponse, encodeCbor, signRoot } from '../protocol/index.ts';
import {
  NOW_MS,
  ROOT,
  certificateBytes,
  identifiedRequest,
  requestBytes,
  testBundleBytes,
} from '../testing/collector-fixture.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { loadCollectorConfig } from './config.ts';
import { fetchFeed } from './feed-source.ts';
import { startCollector } from './udp.ts';

/** What the test server answers: a bundle with its ETag, or a fixed status. */
const served: { body: Uint8Array; etag: string; status?: number; hang?: boolean } = {
  body: new Uint8Array(0),
  etag: '"v0"',
};
const requests: IncomingHttpHeaders[] = [];
let server: Server | undefined;
let url = '';
let dir = '';

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.headers);
    if (served.hang === true) return; // never answers: the client's timeout must fire
    if (served.status !== undefined) {
      res.writeHead(served.status).end('nope');
    } else if (req.headers['if-none-match'] === served.etag) {
      res.writeHead(304, { etag: served.etag }).end();
    } else {
      res
        .writeHead(200, { etag: served.etag, 'content-type': 'application/cbor' })
        .end(served.body);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundle.cbor`;
  dir = await mkdtemp(join(tmpdir(), 'tattler-feed-source-'));
});

after(async () => {
  server?.closeAllConnections();
  server?.close();
  await rm(dir, { recursive: true, force: true });
});

function serve(body: Uint8Array, etag: string): void {
  served.body = body;
  served.etag = etag;
  delete served.status;
  delete served.hang;
}

test('fetchFeed(): 200 with validators, then 304 on a conditional request carrying If-None-Match', async () => {
  serve(Uint8Array.of(1, 2, 3), '"a"');
  requests.length = 0;
  const first = await fetchFeed(url, undefined);
  assert.ok(first.kind === 'fetched', first.kind);
  assert.deepEqual(first.bytes, Uint8Array.of(1, 2, 3));
  assert.equal(first.validators.etag, '"a"');
  assert.equal(requests[0]?.['if-none-match'], undefined);
  const second = await fetchFeed(url, first.validators);
  assert.equal(second.kind, 'unchanged');
  assert.equal(requests[1]?.['if-none-match'], '"a"');
});

test('fetchFeed(): another status, an oversize body and a timeout are errors naming the URL', async () => {
  served.status = 500;
  await assert.rejects(fetchFeed(url, undefined), (err: Error) =>
    err.message.startsWith(`${url}: HTTP 500`),
  );
  serve(new Uint8Array(1000), '"big"');
  await assert.rejects(
    fetchFeed(url, undefined, { maxBytes: 999 }),
    (err: Error) =>
      err.message.startsWith(`${url}: `) && /larger than the 999-byte limit/.test(err.message),
  );
  served.hang = true;
  await assert.rejects(
    fetchFeed(url, undefined, { timeoutMs: 50 }),
    (err: Error) => err.message === `${url}: cannot fetch the feed bundle: timed out`,
  );
  server?.closeAllConnections();
});

async function writeCollectorFiles(): Promise<string> {
  const [r0, r1] = TRUST_KEYS.root;
  assert.ok(r0 !== undefined && r1 !== undefined);
  await writeFile(join(dir, 'collector.key'), encodePrivateKeyPem(TRUST_KEYS.collector), {
    mode: 0o600,
  });
  await writeFile(join(dir, 'collector.cert.cbor'), certificateBytes());
  await writeFile(join(dir, 'root.cbor'), encodeCbor(signRoot([r0, r1], ROOT)));
  const file = join(dir, 'collector.yaml');
  await writeFile(
    file,
    [
      'listen: [{address: 127.0.0.1, port: 0}]',
      `feed: {url: "${url}", root: root.cbor, pullInterval: 15m}`,
      'key: collector.key',
      'certificate: collector.cert.cbor',
      'operator: Example ISP',
      '',
    ].join('\n'),
  );
  return file;
}

test('startCollector() refuses to start when the feed URL fails, naming the URL and the status', async () => {
  const config = await loadCollectorConfig(await writeCollectorFiles());
  serve(testBundleBytes(), '"v42"');
  served.status = 503;
  await assert.rejects(
    startCollector(config, { now: () => NOW_MS, log: () => undefined }),
    (err: Error) => err.message.startsWith(`${url}: HTTP 503`),
  );
});

test('startCollector() pulls a URL feed: 304 keeps it, a newer bundle is swapped in, a corrupt, older or failed one is refused and kept', async () => {
  const config = await loadCollectorConfig(await writeCollectorFiles());
  serve(testBundleBytes({ feedVersion: 42 }), '"v42"');
  requests.length = 0;
  const logged: string[] = [];
  const pulls: { pull: () => Promise<void>; ms: number; cancelled: boolean }[] = [];
  const started = Date.now();
  const collector = await startCollector(config, {
    now: () => NOW_MS + (Date.now() - started),
    log: (_level, _event, message) => logged.push(message),
    random: () => 0,
    schedule: (pull, ms) => {
      const entry = { pull, ms, cancelled: false };
      pulls.push(entry);
      return () => {
        entry.cancelled = true;
      };
    },
  });
  const client: Socket = createSocket('udp4');
  try {
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    const port = collector.addresses()[0]?.port ?? 0;
    /** The feed version of the live collector's answer to the identified announcement. */
    const feedVersion = async (): Promise<number> => {
      const answered = once(client, 'message') as Promise<[Buffer]>;
      client.send(requestBytes(identifiedRequest()), port, '127.0.0.1');
      const [reply] = await answered;
      const r = decodeResponse(new Uint8Array(reply)).response;
      assert.ok(r.kind === 'verdict', r.kind);
      return r.verdict.value.feedVersion;
    };
    /** Runs the one pending pull, as its timer would, and returns the lines it logged. */
    const pull = async (): Promise<string[]> => {
      const pending = pulls.filter((p) => !p.cancelled);
      assert.equal(pending.length, pulls.length === 0 ? 0 : 1);
      const next = pulls.shift();
      assert.ok(next !== undefined, 'a pull is scheduled');
      const before = logged.length;
      await next.pull();
      assert.equal(pulls.length, 1, 'the next pull is scheduled');
      return logged.slice(before);
    };

    assert.equal(await feedVersion(), 42);
    assert.equal(requests.length, 1);
    // 15 minutes with the lowest jitter (-10 %).
    assert.equal(pulls[0]?.ms, 0.9 * 15 * 60 * 1000);

    // Unchanged: the conditional request carries the ETag and gets 304; nothing logged.
    assert.deepEqual(await pull(), []);
    assert.equal(requests[1]?.['if-none-match'], '"v42"');
    assert.equal(await feedVersion(), 42);

    // A newer bundle is verified and swapped in; the live collector answers with it.
    serve(testBundleBytes({ feedVersion: 43 }), '"v43"');
    assert.deepEqual(await pull(), [`pull: feed version 43 from ${url}`]);
    assert.equal(await feedVersion(), 43);
    assert.deepEqual(await pull(), []);
    assert.equal(requests.at(-1)?.['if-none-match'], '"v43"');

    // A corrupt bundle: refused, the old feed kept, and the log line says why.
    const corrupt = testBundleBytes({ feedVersion: 44 });
    const middle = corrupt.length >> 1;
    corrupt[middle] = (corrupt[middle] ?? 0) ^ 0xff;
    serve(corrupt, '"corrupt"');
    const corruptLog = await pull();
    assert.equal(corruptLog.length, 1);
    assert.match(
      corruptLog[0] ?? '',
      /^pull: feed not updated, keeping feed version 43: http:\/\/127\.0\.0\.1:\d+\/bundle\.cbor: feed bundle refused \([A-Z_]+: /,
    );
    assert.equal(await feedVersion(), 43);

    // An older (validly signed) version: a feed never goes back.
    serve(testBundleBytes({ feedVersion: 41 }), '"v41"');
    assert.deepEqual(await pull(), [
      `pull: feed not updated, keeping feed version 43: ${url}: feed version 41 is not above the running 43; a feed never goes back`,
    ]);
    assert.equal(await feedVersion(), 43);

    // An expired bundle with a higher version: refused.
    serve(
      testBundleBytes({
        feedVersion: 45,
        issuedAt: NOW_MS / 1000 - 7200,
        expiresAt: NOW_MS / 1000 - 60,
      }),
      '"expired"',
    );
    const expiredLog = await pull();
    assert.match(expiredLog[0] ?? '', /feed bundle refused \(EXPIRED: /);
    assert.equal(await feedVersion(), 43);

    // A server error: kept, and said so with the URL and the status.
    served.status = 500;
    assert.deepEqual(await pull(), [
      `pull: feed not updated, keeping feed version 43: ${url}: HTTP 500 Internal Server Error`,
    ]);
    assert.equal(await feedVersion(), 43);
  } finally {
    client.close();
    await collector.close();
  }
  assert.equal(pulls.length, 1);
  assert.ok(
    pulls.every((p) => p.cancelled),
    'close() cancels the pending pull',
  );
});
