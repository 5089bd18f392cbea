/**
 * "Nothing stored when it is off" (issue #5, docs/privacy.md), checked on the live collector: with
 * notify off, a mix of identified FAIL/PASS/UNKNOWN and private announcements leaves its directory
 * byte-identical; with notify on, one FAIL leaves exactly one row (address, advisory, time) in the
 * one documented table.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { decodeResponse, type DecodedResponse } from '../protocol/index.ts';
import {
  COLLECTOR_DIR_FILES,
  NOW_MS,
  identifiedRequest,
  privateRequest,
  requestBytes,
  writeCollectorDir,
} from '../testing/collector-fixture.ts';
import { loadCollectorConfig } from './config.ts';
import { NOTIFY_COLUMNS, NOTIFY_TABLE } from './notify-store.ts';
import { startCollector, type RunningCollector } from './udp.ts';

/** Every file under `dir` (recursively) with its bytes, keyed by the path relative to `dir`. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    files.set(
      relative(dir, path),
      entry.isFile()
        ? await readFile(path)
        : Buffer.from(`<${entry.isDirectory() ? 'directory' : 'special'}>`),
    );
  }
  return files;
}

/** A fixed clock: the time the notify row must carry. */
const CLOCK_MS = NOW_MS + 1_234;

/** Runs `body` against a live collector started from `configPath`, then closes it. */
async function withCollector(
  configPath: string,
  body: (ask: (bytes: Uint8Array) => Promise<DecodedResponse>) => Promise<void>,
): Promise<void> {
  const config = await loadCollectorConfig(configPath);
  const running: RunningCollector = await startCollector(config, {
    now: () => CLOCK_MS,
    log: () => undefined,
  });
  const client: Socket = createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  const port = running.addresses()[0]?.port ?? 0;
  try {
    await body(async (bytes) => {
      const answered = once(client, 'message') as Promise<[Buffer]>;
      client.send(bytes, port, '127.0.0.1');
      const [reply] = await answered;
      assert.ok(reply.byteLength <= bytes.byteLength);
      return decodeResponse(new Uint8Array(reply));
    });
  } finally {
    client.close();
    await running.close();
  }
}

function statusOf(answer: DecodedResponse): string {
  const r = answer.response;
  if (r.kind === 'verdict') return r.verdict.value.status;
  if (r.kind === 'unsigned-verdict') return r.verdict.status;
  return r.kind;
}

test('notify off: identified FAIL/PASS/UNKNOWN and private announcements leave the directory byte-identical (nothing stored)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tattler-privacy-off-'));
  try {
    const configPath = await writeCollectorDir(dir);
    const before = await snapshot(dir);
    assert.deepEqual(
      [...before.keys()].sort(),
      [...COLLECTOR_DIR_FILES].sort(),
      'only the config, key, certificate, root and feed to start with',
    );
    const statuses: string[] = [];
    await withCollector(configPath, async (ask) => {
      for (let round = 0; round < 3; round++) {
        statuses.push(statusOf(await ask(requestBytes(identifiedRequest(), 100 + round))));
        statuses.push(
          statusOf(
            await ask(
              requestBytes(identifiedRequest({ swVersion: { version: '2.1' } }), 200 + round),
            ),
          ),
        );
        statuses.push(
          statusOf(await ask(requestBytes(identifiedRequest({ model: 'dir860l' }), 300 + round))),
        );
        statuses.push(statusOf(await ask(requestBytes(privateRequest(), 400 + round))));
      }
    });
    assert.deepEqual(statuses.slice(0, 4), ['fail', 'pass', 'unknown', 'private']);
    assert.equal(statuses.length, 12);
    const after = await snapshot(dir);
    assert.deepEqual(
      [...after.keys()].sort(),
      [...before.keys()].sort(),
      'no file created or removed: no database, no log',
    );
    for (const [path, bytes] of before)
      assert.ok(after.get(path)?.equals(bytes), `${path} unchanged`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('notify on: one FAIL stores exactly one row (address, advisory, time) in the one documented table', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tattler-privacy-on-'));
  try {
    const configPath = await writeCollectorDir(dir, [
      'privacy: {notify: {enabled: true, database: notify.db}}',
    ]);
    await withCollector(configPath, async (ask) => {
      assert.equal(statusOf(await ask(requestBytes(identifiedRequest()))), 'fail');
    });
    const files = [...(await snapshot(dir)).keys()].filter(
      (f) => !(COLLECTOR_DIR_FILES as readonly string[]).includes(f),
    );
    assert.deepEqual(
      files,
      ['notify.db'],
      'the database is the only new file (WAL checkpointed and removed on close)',
    );
    const db = new Database(join(dir, 'notify.db'), { readonly: true, fileMustExist: true });
    try {
      const tables = db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .pluck()
        .all();
      assert.deepEqual(tables, [NOTIFY_TABLE]);
      const columns = db
        .prepare(`SELECT name FROM pragma_table_info('${NOTIFY_TABLE}') ORDER BY cid`)
        .pluck()
        .all();
      assert.deepEqual(columns, [...NOTIFY_COLUMNS]);
      const rows = db.prepare(`SELECT * FROM ${NOTIFY_TABLE}`).all();
      assert.deepEqual(rows, [
        {
          address: '127.0.0.1',
          advisory: 'CVE-2019-17621',
          first_seen_ms: CLOCK_MS,
          last_seen_ms: CLOCK_MS,
          count: 1,
        },
      ]);
    } finally {
      db.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
