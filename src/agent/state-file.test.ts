import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  findRunningAgent,
  readPidFile,
  readStateFile,
  readStatusFile,
  removePidFile,
  writePidFile,
  writeStateFile,
  writeStatusFile,
} from './state-file.ts';
import type { PersistedState } from './state.ts';

let dir = '';
const OLD: PersistedState = { version: 1, timeFloorSeconds: 1_700_000_000, unanswered: 0 };
const NEW: PersistedState = {
  version: 1,
  timeFloorSeconds: 1_700_000_100,
  unanswered: 0,
  fail: { mode: 'identified', advisories: ['CVE-2019-17621'], remediationHosts: [], swVersion: '1.05B03', remainingSeconds: 600 },
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-state-file-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('writeStateFile() writes state.json with mode 0600 and readStateFile() reads it back', async () => {
  await writeStateFile(dir, NEW);
  const read = await readStateFile(dir, { nowMs: 0 });
  assert.deepEqual(read, { kind: 'ok', state: NEW });
  assert.equal((await stat(join(dir, 'state.json'))).mode & 0o777, 0o600);
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
});

test('writeStateFile() leaves the old file intact when it crashes between write and rename', async () => {
  await writeStateFile(dir, OLD);
  const before = await readFile(join(dir, 'state.json'), 'utf8');
  const failingRename = (): Promise<void> => Promise.reject(Object.assign(new Error('EIO: crash'), { code: 'EIO' }));
  await assert.rejects(writeStateFile(dir, NEW, { fs: { rename: failingRename } }), /EIO: crash/);
  assert.equal(await readFile(join(dir, 'state.json'), 'utf8'), before);
  assert.deepEqual(await readStateFile(dir, { nowMs: 0 }), { kind: 'ok', state: OLD });
  // No temp file is left behind.
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
});

test('readStateFile() moves a corrupt file aside as state.json.corrupt-<time>', async () => {
  const sub = await mkdtemp(join(dir, 'corrupt-'));
  await writeFile(join(sub, 'state.json'), '{"version": 2, "timeFloorSeconds": 0, "unanswered": 0}');
  const read = await readStateFile(sub, { nowMs: Date.UTC(2026, 10, 26, 6, 30, 0, 5) });
  assert.ok(read.kind === 'corrupt');
  assert.equal(read.error.code, 'BAD_VERSION');
  assert.equal(read.movedTo, join(sub, 'state.json.corrupt-2026-11-26T06-30-00-005Z'));
  assert.deepEqual(await readdir(sub), ['state.json.corrupt-2026-11-26T06-30-00-005Z']);
  assert.deepEqual(await readStateFile(sub, { nowMs: 0 }), { kind: 'missing' });
});

test('readStateFile() treats an oversize file as corrupt (TOO_LARGE) without reading it all', async () => {
  const sub = await mkdtemp(join(dir, 'large-'));
  await writeFile(join(sub, 'state.json'), ' '.repeat(1_000_000));
  const read = await readStateFile(sub, { nowMs: 0 });
  assert.ok(read.kind === 'corrupt');
  assert.equal(read.error.code, 'TOO_LARGE');
});

test('writeStatusFile() / readStatusFile() round-trip; a foreign status.json reads as undefined', async () => {
  const record = { version: 1, mode: 'private', enforcement: true, status: 'quarantined', sinceIso: '2026-11-26T06:00:00.000Z', reason: 'accepted FAIL (CVE-2019-17621)' } as const;
  await writeStatusFile(dir, record);
  assert.deepEqual(await readStatusFile(dir), record);
  await writeFile(join(dir, 'status.json'), '{"version": 1, "status": "pwned"}');
  assert.equal(await readStatusFile(dir), undefined);
});

test('findRunningAgent() ignores a pid file naming a process that is not a tattler agent', async () => {
  const sub = await mkdtemp(join(dir, 'pid-'));
  assert.equal(await readPidFile(sub), undefined);
  // This test process runs `node --test …`: alive, but not `tattler agent`.
  await writePidFile(sub, process.pid);
  assert.equal(await readPidFile(sub), process.pid);
  assert.equal(await findRunningAgent(sub), undefined);
  await writeFile(join(sub, 'agent.pid'), 'garbage\n');
  assert.equal(await readPidFile(sub), undefined);
  await writePidFile(sub, 4_000_000);
  await removePidFile(sub, process.pid);
  assert.equal(await readPidFile(sub), 4_000_000);
  await removePidFile(sub, 4_000_000);
  assert.equal(await readPidFile(sub), undefined);
});
