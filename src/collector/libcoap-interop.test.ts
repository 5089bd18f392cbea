/**
 * Interop with libcoap's library (issue: "libcoap's client sends a padded announcement file our
 * code wrote to the running collector and the verdict it receives verifies with our decoder").
 * libcoap's command-line client cannot send 1232 bytes unfragmented (1152-byte PDU size), so
 * tools/coap-announce.c, a small client on the libcoap 4.3 library, is compiled here and sends
 * the CBOR payload of our 1232-byte request; libcoap builds the CoAP header and options itself.
 * Skipped when gcc or libcoap's development files (Debian libcoap3-dev) are missing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CborTag,
  COAP_CODE,
  COAP_TYPE,
  REQUEST_BYTES,
  decodeCbor,
  decodeCoap,
  decodeResponse,
  encodeCoap,
  encodeRequest,
  readVerdict,
  verifySign1,
  type CoapType,
} from '../protocol/index.ts';
import { NOW_MS, identifiedRequest, writeCollectorDir } from '../testing/collector-fixture.ts';
import { checkTool, runTool } from '../testing/external-tool.ts';
import { TRUST_KEYS } from '../testing/trust-keys.ts';
import { loadCollectorConfig } from './config.ts';
import { startCollector } from './udp.ts';

const SOURCE = fileURLToPath(new URL('../../tools/coap-announce.c', import.meta.url));
const LIBCOAP_HINT = 'the Debian packages gcc, pkg-config and libcoap3-dev';
const LIBCOAP = 'libcoap-3-notls';
/** Not the fixture's token, so the echo is this request's. */
const TOKEN_HEX = '0123456789abcdef';

const skip =
  (await checkTool('gcc', ['--version'], { installHint: LIBCOAP_HINT, exitCodes: [0] })) ??
  (await checkTool('pkg-config', ['--exists', LIBCOAP], {
    installHint: LIBCOAP_HINT,
    exitCodes: [0],
  }));

/** The program's "key value" lines (option lines keep their number in the key). */
function fieldsOf(stdout: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of stdout.trim().split('\n')) {
    const words = line.split(' ');
    const key = words[0] === 'option' ? `option ${words[1] ?? ''}` : (words[0] ?? '');
    fields.set(key, words.at(-1) ?? '');
  }
  return fields;
}

test(
  'libcoap (library) sends our padded announcement to the live collector; the 2.04 FAIL verdict it receives verifies with our decoder',
  { skip },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tattler-libcoap-'));
    try {
      const flags = (
        await runTool('pkg-config', ['--cflags', '--libs', LIBCOAP], { timeoutMs: 10_000 })
      ).stdout
        .trim()
        .split(/\s+/)
        .filter((f) => f !== '');
      const binary = join(dir, 'coap-announce');
      const built = await runTool('gcc', ['-O1', '-o', binary, SOURCE, ...flags], {
        timeoutMs: 60_000,
      });
      assert.equal(built.exitCode, 0, `gcc: ${built.stderr}`);

      // Our request for libcoap's token; libcoap writes header, token and options, we the payload.
      const token = Buffer.from(TOKEN_HEX, 'hex');
      const request = encodeRequest(identifiedRequest(), { messageId: 0, token });
      assert.equal(request.byteLength, REQUEST_BYTES);
      const payloadFile = join(dir, 'announce.payload');
      const answerFile = join(dir, 'answer.payload');
      await writeFile(payloadFile, decodeCoap(request).payload);

      const config = await loadCollectorConfig(await writeCollectorDir(dir));
      const running = await startCollector(config, { now: () => NOW_MS, log: () => undefined });
      let run;
      try {
        const port = running.addresses()[0]?.port ?? 0;
        // Async (not execFileSync): the collector answers on this process's event loop.
        run = await runTool(
          binary,
          ['127.0.0.1', String(port), TOKEN_HEX, payloadFile, answerFile],
          { timeoutMs: 10_000 },
        );
        assert.equal(
          run.exitCode,
          0,
          `coap-announce exited ${String(run.exitCode)}: ${run.stdout}${run.stderr}`,
        );
        // libcoap's own debug log: one datagram of exactly 1232 bytes on the wire, not split.
        assert.deepEqual(
          run.stderr.match(/sent \d+ bytes/g),
          [`sent ${REQUEST_BYTES} bytes`],
          run.stderr,
        );
        assert.deepEqual(
          Object.fromEntries(running.counters()),
          { replies: 1, 'identified{model="dir859",status="fail",vendor="dlink"}': 1 },
          'accepted as a 1232-byte announcement (no BAD_LENGTH or other drop) and answered once',
        );
      } finally {
        await running.close();
      }

      const fields = fieldsOf(run.stdout);
      assert.equal(fields.get('code'), '2.04', 'libcoap received 2.04 Changed');
      assert.equal(fields.get('type'), String(COAP_TYPE.NON));
      assert.equal(fields.get('token'), TOKEN_HEX, 'libcoap matched our token');
      assert.equal(fields.get('option 12'), '3c', 'Content-Format 60 (CBOR)');
      const payload = new Uint8Array(await readFile(answerFile));
      assert.equal(fields.get('payload'), String(payload.byteLength));

      // The payload: [1, 0, COSE_Sign1] holding a FAIL signed by the collector key.
      const value = decodeCbor(payload);
      assert.ok(Array.isArray(value) && value.length === 3, 'a three-element array');
      assert.equal(value[0], 1);
      assert.equal(value[1], 0);
      assert.ok(value[2] instanceof CborTag && value[2].tag === 18, 'COSE_Sign1 (tag 18)');
      const verdict = readVerdict(value[2]);
      assert.equal(verdict.value.status, 'fail');
      assert.ok(verifySign1(verdict.sign1, TRUST_KEYS.collector.publicKey));

      // The same answer as a whole datagram, rebuilt from what libcoap reported, through our decoder.
      const datagram = encodeCoap({
        type: Number(fields.get('type')) as CoapType,
        code: COAP_CODE.CHANGED,
        messageId: Number(fields.get('mid')),
        token,
        options: [...fields]
          .filter(([k]) => k.startsWith('option '))
          .map(([k, v]) => ({ number: Number(k.slice(7)), value: Buffer.from(v, 'hex') })),
        payload,
      });
      assert.ok(datagram.byteLength <= REQUEST_BYTES);
      const decoded = decodeResponse(datagram);
      assert.equal(decoded.response.kind, 'verdict');
      assert.ok(verifySign1(decoded.response.verdict.sign1, TRUST_KEYS.collector.publicKey));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
