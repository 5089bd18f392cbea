/**
 * Baseline of `npm run bench:collector`: the same identified and private exchanges served through
 * the `coap` npm package, "what most developers would write". node-coap parses the CoAP message;
 * our decoder (`decodeRequest`, via the collector's pure core) reads the request, the same feed,
 * key and policy answer it, and node-coap frames and sends the answer.
 *
 *   node dist/bench/baselines/coap-server.js DIR
 *
 * DIR is a directory written by `writeCollectorDir` (src/testing/collector-fixture.ts). Listens on
 * 127.0.0.1, any port; prints `listening on 127.0.0.1:PORT` on stderr; serves until SIGTERM/SIGINT.
 * @module
 */
import { Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, parameters, type IncomingMessage, type OutgoingMessage } from 'coap';
import { decodePrivateKeyPem } from '../../crypto/index.ts';
import { verifyBundle } from '../../feed/bundle.ts';
import { createCollectorState, onDatagram, type Datagram } from '../../collector/core.ts';
import {
  COAP_OPTION,
  COAP_TYPE,
  CONTENT_FORMAT_CBOR,
  decodeCbor,
  decodeCoap,
  encodeCoap,
  encodeUintOption,
  parseIp,
  readRoot,
  type CoapOption,
} from '../../protocol/index.ts';

// node-coap refuses to frame a message above 1152 bytes (RFC 7252 §4.6's default); Tattler
// answers go up to 1232 ([P-3-1]), so a developer raises it, as libcoap users raise the MTU.
parameters.maxMessageSize = 1232;

const LOOPBACK = '127.0.0.1';
const WIDE_OPEN = { ratePerSecond: 1_000_000, burst: 1_000_000 };

/** node-coap names the options it parses; these are the ones a Tattler request carries. */
const OPTION_NUMBERS = new Map<string, number>([
  ['Uri-Host', COAP_OPTION.URI_HOST],
  ['Uri-Port', COAP_OPTION.URI_PORT],
  ['Uri-Path', COAP_OPTION.URI_PATH],
  ['Content-Format', COAP_OPTION.CONTENT_FORMAT],
]);

/** The options our answers carry, by the names node-coap expects. */
const OPTION_NAMES = new Map<number, string>([
  [COAP_OPTION.CONTENT_FORMAT, 'Content-Format'],
  [COAP_OPTION.MAX_AGE, 'Max-Age'],
]);

const CBOR_MEDIA_TYPE = 'application/cbor';

const METHOD_CODES = new Map<string, number>([
  ['0.01', 0x01],
  ['0.02', 0x02],
]);

async function loadState(dir: string): Promise<ReturnType<typeof createCollectorState>> {
  const key = decodePrivateKeyPem(await readFile(join(dir, 'collector.key'), 'utf8'));
  const certificate = new Uint8Array(await readFile(join(dir, 'collector.cert.cbor')));
  const rootBytes = new Uint8Array(await readFile(join(dir, 'root.cbor')));
  const root = readRoot(decodeCbor(rootBytes)).value;
  const verified = verifyBundle(new Uint8Array(await readFile(join(dir, 'bundle.cbor'))), root, {
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  if (!verified.ok) throw new Error(`${dir}/bundle.cbor: ${verified.reason}: ${verified.message}`);
  return createCollectorState({
    operator: 'Example ISP',
    key,
    certificate,
    roots: [rootBytes],
    feed: verified.bundle,
    rateLimit: WIDE_OPEN,
  });
}

/** The request datagram again, from what node-coap parsed, or undefined for an option it renamed beyond ours. */
function datagramOf(request: IncomingMessage): Uint8Array | undefined {
  const packet = request._packet;
  const code = METHOD_CODES.get(request.code);
  if (code === undefined || packet.token === undefined || packet.messageId === undefined)
    return undefined;
  const options: CoapOption[] = [];
  for (const option of packet.options ?? []) {
    const number = typeof option.name === 'number' ? option.name : OPTION_NUMBERS.get(option.name);
    if (number === undefined) return undefined;
    // node-coap hands Content-Format over as its media type name ("application/cbor").
    // (its types say Buffer, hence the look through unknown).
    const raw: unknown = option.value;
    const value = raw === CBOR_MEDIA_TYPE ? encodeUintOption(CONTENT_FORMAT_CBOR) : raw;
    if (!Buffer.isBuffer(value) && !(value instanceof Uint8Array)) return undefined;
    options.push({ number, value });
  }
  return encodeCoap({
    type: packet.confirmable === true ? COAP_TYPE.CON : COAP_TYPE.NON,
    code,
    messageId: packet.messageId,
    token: packet.token,
    options,
    payload: request.payload,
  });
}

async function run(dir: string): Promise<void> {
  const state = await loadState(dir);
  const destination = parseIp(LOOPBACK);
  if (destination === undefined) throw new Error('loopback address');
  const server = createServer(
    { type: 'udp4' },
    function answer(request: IncomingMessage, response: OutgoingMessage) {
      response.on('error', () => undefined);
      const bytes = datagramOf(request);
      const source = parseIp(request.rsinfo.address);
      if (bytes === undefined || source === undefined) return;
      const datagram: Datagram = {
        bytes,
        source: { address: source, port: request.rsinfo.port },
        destination: { address: destination, port: 0 },
      };
      for (const effect of onDatagram(state, datagram, Date.now())) {
        if (effect.kind !== 'reply') continue;
        const reply = decodeCoap(effect.bytes);
        response.code = `${reply.code >> 5}.${(reply.code & 0x1f).toString().padStart(2, '0')}`;
        for (const option of reply.options) {
          const name = OPTION_NAMES.get(option.number);
          if (name !== undefined) response.setOption(name, Buffer.from(option.value));
        }
        response.end(Buffer.from(reply.payload));
      }
    },
  );
  server.listen(0, LOOPBACK, () => {
    const socket = server._sock;
    const port = socket instanceof Socket ? socket.address().port : 0;
    process.stderr.write(`coap-server: listening on ${LOOPBACK}:${port}\n`);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      server.close();
    });
  }
}

try {
  await run(process.argv[2] ?? '.');
} catch (err) {
  process.stderr.write(
    `coap-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
}
