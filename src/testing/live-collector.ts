/**
 * A live collector on loopback for tests (tests only): its files in a temporary directory
 * (writeCollectorDir), the single-process service started in this process, and one bound client
 * socket; `ask` sends a request and resolves with its one answer, or rejects naming the drop
 * codes when the collector handled it without answering.
 * @module
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCollectorConfig } from '../collector/config.ts';
import { startCollector, type CollectorDeps, type RunningCollector } from '../collector/udp.ts';
import { decodeResponse, type DecodedResponse } from '../protocol/index.ts';
import { writeCollectorDir, type CollectorDirOptions } from './collector-fixture.ts';

/** A running collector, its directory and a client socket. */
export interface LiveCollector {
  readonly dir: string;
  readonly collector: RunningCollector;
  readonly client: Socket;
  /** The collector's UDP port on 127.0.0.1. */
  readonly port: number;
  /** The certificate bytes the collector serves (its scope covers loopback). */
  readonly certificate: Uint8Array;
  /** Sends `bytes` and resolves with the answer (BAF ≤ 1 checked); rejects if none is sent. */
  ask(bytes: Uint8Array): Promise<{ bytes: Uint8Array; answer: DecodedResponse }>;
  /** Sends `bytes` and resolves once the collector has handled it, answered or not. */
  sendHandled(bytes: Uint8Array): Promise<void>;
  /** A counter of the collector (drop codes, `replies`, `name{labels}`); 0 when absent. */
  counter(name: string): number;
  /** Stops the collector, closes the client and removes the directory. */
  close(): Promise<void>;
}

/** What to start: extra config lines, the documents' validity, and the shell's deps. */
export interface LiveCollectorOptions extends CollectorDirOptions {
  readonly extraYaml?: readonly string[];
  /** Runs after the files are written, before the collector starts (e.g. to replace the feed). */
  readonly prepare?: (dir: string) => Promise<void>;
  readonly deps?: CollectorDeps;
}

/**
 * Starts a collector as a test needs it; call `close()` in `after`.
 * @example const live = await startLiveCollector({ deps: { now: () => NOW_MS } });
 */
export async function startLiveCollector(options: LiveCollectorOptions = {}): Promise<LiveCollector> {
  const dir = await mkdtemp(join(tmpdir(), 'tattler-live-'));
  const file = await writeCollectorDir(dir, options.extraYaml ?? [], options.nowSeconds === undefined ? {} : { nowSeconds: options.nowSeconds });
  await options.prepare?.(dir);
  const certificate = new Uint8Array(await readFile(join(dir, 'collector.cert.cbor')));
  const collector = await startCollector(await loadCollectorConfig(file), { log: () => undefined, ...options.deps });
  const client = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  const port = collector.addresses()[0]?.port ?? 0;
  assert.ok(port > 0, 'collector bound');
  const counter = (name: string): number => collector.counters().get(name) ?? 0;
  return {
    dir,
    collector,
    client,
    port,
    certificate,
    counter,
    ask: async (bytes) => {
      const answered = once(client, 'message') as Promise<[Buffer]>;
      const replies = counter('replies');
      const handled = once(collector.events, 'handled').then(() => {
        if (counter('replies') > replies) return answered;
        // Handled without an answer: fail now, naming the drop codes, not at the test's timeout.
        const drops = [...collector.counters()].filter(([k, v]) => /^[A-Z_]+$/.test(k) && v > 0);
        throw new Error(`no answer; drops so far: ${JSON.stringify(drops)}`);
      });
      client.send(bytes, port, '127.0.0.1');
      const [reply] = await Promise.race([answered, handled]);
      const answer = new Uint8Array(reply);
      assert.ok(answer.byteLength <= bytes.byteLength, `answer ${answer.byteLength} bytes, request ${bytes.byteLength}: BAF ≤ 1`);
      return { bytes: answer, answer: decodeResponse(answer) };
    },
    sendHandled: async (bytes) => {
      const handled = once(collector.events, 'handled');
      client.send(bytes, port, '127.0.0.1');
      await handled;
    },
    close: async () => {
      await collector.close();
      client.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
