import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadCollectorConfig } from '../collector/config.ts';
import { startCollector, type RunningCollector } from '../collector/udp.ts';
import { browserSkipReason, launchBrowser } from '../testing/browser.ts';
import { writeCollectorDir } from '../testing/collector-fixture.ts';
import {
  CapturedLog,
  FAST_SCHEDULE,
  RecordingRoutes,
  ScriptedNetwork,
  writeAgentConfig,
} from '../testing/agent-daemon-fixture.ts';
import { loadAgentConfig, loadAgentTrust } from './config.ts';
import { startAgentDaemon, type RunningAgent } from './daemon.ts';
import { waitForOwnerOutcome, writeOwnerRequest, type OwnerRequest } from './owner-request.ts';
import { decodeState } from './state.ts';
import type { RouteCall } from '../testing/agent-daemon-fixture.ts';

const WEBHOOK_SECRET = 'webhook-secret-of-at-least-16-bytes';
let dir = '';
let collector: RunningCollector;
let port = 0;
let hooks: Server;
let hookUrl = '';
/** Webhook POSTs received: the parsed body and whether the HMAC matched. */
const received: {
  body: { previous?: string; current?: { status?: string }; reason?: string };
  signed: boolean;
}[] = [];
const running: RunningAgent[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tattler-agent-owner-'));
  const config = await writeCollectorDir(dir, [], { nowSeconds: Math.floor(Date.now() / 1000) });
  collector = await startCollector(await loadCollectorConfig(config), { log: () => undefined });
  port = collector.addresses()[0]?.port ?? 0;
  hooks = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(req.headers['x-tattler-timestamp']);
      const expected = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(`${timestamp}.${body}`).digest('hex')}`;
      received.push({
        body: JSON.parse(body) as (typeof received)[number]['body'],
        signed: req.headers['x-tattler-signature'] === expected,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  const address = hooks.address();
  hookUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/hook`;
});

after(async () => {
  for (const agent of running) await agent.close();
  await collector.close();
  hooks.closeAllConnections();
  await new Promise((resolve) => hooks.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

async function start(
  stateDir: string,
  options: { version?: string; log: CapturedLog; routes: RecordingRoutes; secrets?: string[] },
): Promise<RunningAgent> {
  const file = await writeAgentConfig(dir, {
    port,
    stateDir,
    ...(options.version === undefined ? {} : { version: options.version }),
    extra: [
      'owner:',
      '  page: {address: 127.0.0.1, public: full}',
      `  notify: {webhook: {url: "${hookUrl}", secret: "${WEBHOOK_SECRET}"}}`,
    ],
  });
  const settings = await loadAgentConfig(file);
  const agent = await startAgentDaemon(settings, await loadAgentTrust(settings), {
    schedule: FAST_SCHEDULE,
    systemResolvers: () => Promise.resolve(['192.0.2.1']),
    startupWindow: null,
    network: new ScriptedNetwork(),
    routes: options.routes,
    ownerPagePort: 0,
    onOwnerSecret: (secret) => options.secrets?.push(secret),
    log: options.log.sink,
  });
  running.push(agent);
  return agent;
}

/** Resolves with the next call of `routes` (or one already made after `index`). */
function routeCall(routes: RecordingRoutes, index: number): Promise<RouteCall> {
  const made = routes.calls[index];
  if (made !== undefined) return Promise.resolve(made);
  return new Promise((resolve) => routes.events.once('call', resolve));
}

/** Sends a request the way `tattler agent override/resume` does, SIGUSR2 being handleOwnerRequest(). */
async function ask(
  agent: RunningAgent,
  stateDir: string,
  request: OwnerRequest,
): Promise<{ ok: boolean; message: string; status: string }> {
  await writeOwnerRequest(join(dir, stateDir), request);
  agent.handleOwnerRequest();
  const record = await waitForOwnerOutcome(join(dir, stateDir), request.id, { timeoutMs: 5_000 });
  assert.ok(record?.ownerRequest !== undefined, 'no outcome in status.json');
  return { ...record.ownerRequest, status: record.status };
}

function id(): string {
  return randomBytes(8).toString('hex');
}

test('an owner request (the CLI path) overrides a quarantine: routes lifted; resume re-applies; the webhook gets each change signed', async () => {
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const secrets: string[] = [];
  const agent = await start('cli', { log, routes, secrets });
  assert.equal((await routeCall(routes, 0)).kind, 'apply');
  await agent.idle();
  await agent.ownerPageStarted();
  assert.equal(secrets.length, 1);
  assert.match(secrets[0] ?? '', /^[A-Z0-9]{5}(-[A-Z0-9]{5}){3}$/);
  const logged = JSON.stringify(log.lines);
  assert.ok(!logged.includes(secrets[0] ?? '?'), 'the secret never goes to the log');
  assert.ok(log.events().includes('owner_secret_new'));

  const persisted = decodeState(await readFile(join(dir, 'cli', 'state.json'), 'utf8'));
  assert.equal(persisted.fail?.kev, true);
  assert.equal(typeof persisted.fail.sinceSeconds, 'number');
  assert.deepEqual(
    agent.ownerStatus().advisories.map((a) => a.id),
    ['CVE-2019-17621'],
  );

  const refused = await ask(agent, 'cli', { id: id(), action: 'resume' });
  assert.deepEqual([refused.ok, refused.status], [false, 'quarantined']);
  assert.match(refused.message, /nothing to resume/);

  const overridden = await ask(agent, 'cli', {
    id: id(),
    action: 'override',
    reason: 'camera needed tonight',
    forSeconds: 3600,
  });
  assert.deepEqual([overridden.ok, overridden.status], [true, 'overridden']);
  assert.deepEqual(await routeCall(routes, 1), { kind: 'lift' });
  assert.equal(
    decodeState(await readFile(join(dir, 'cli', 'state.json'), 'utf8')).override?.reason,
    'camera needed tonight',
  );
  assert.deepEqual(agent.ownerStatus().override?.reason, 'camera needed tonight');

  const again = await ask(agent, 'cli', { id: id(), action: 'override', reason: 'twice' });
  assert.deepEqual([again.ok, again.status], [false, 'overridden']);
  assert.match(again.message, /nothing to override/);

  const resumed = await ask(agent, 'cli', { id: id(), action: 'resume' });
  assert.deepEqual([resumed.ok, resumed.status], [true, 'quarantined']);
  assert.equal((await routeCall(routes, 2)).kind, 'apply');

  await agent.close();
  running.splice(running.indexOf(agent), 1);
  // close() waits for the notifier: every change has been delivered by now.
  assert.deepEqual(
    received.map((r) => [r.body.previous, r.body.current?.status, r.signed]),
    [
      ['clear', 'quarantined', true],
      ['quarantined', 'overridden', true],
      ['overridden', 'quarantined', true],
    ],
  );
  assert.match(received[1]?.body.reason ?? '', /owner override: camera needed tonight/);
});

test('an override request for a device that is not quarantined is refused', async () => {
  const log = new CapturedLog();
  const routes = new RecordingRoutes();
  const agent = await start('clear', { log, routes, version: '2.1' });
  await log.next('accepted');
  await agent.idle();
  const refused = await ask(agent, 'clear', { id: id(), action: 'override', reason: 'why not' });
  assert.deepEqual([refused.ok, refused.status], [false, 'clear']);
  assert.match(refused.message, /nothing to override: the device is clear, not quarantined/);
  assert.deepEqual(routes.calls, []);
});

const skip = browserSkipReason();

test(
  'the status page served by the daemon, in Chromium: shows the quarantine; override with the printed secret lifts it; resume re-applies it',
  { skip },
  async () => {
    const log = new CapturedLog();
    const routes = new RecordingRoutes();
    const secrets: string[] = [];
    const agent = await start('browser', { log, routes, secrets });
    assert.equal((await routeCall(routes, 0)).kind, 'apply');
    await agent.idle();
    const address = await agent.ownerPageStarted();
    assert.ok(address !== undefined);
    const secret = secrets[0] ?? '';
    const browser = await launchBrowser();
    try {
      const page = await browser.context.newPage();
      const url = `http://127.0.0.1:${address.port}/`;
      await page.goto(url);
      const body = await page.innerText('body');
      assert.match(body, /CVE-2019-17621/);
      assert.match(body, /quarantin|cut off/i);
      await page.fill('#secret', secret);
      await page.fill('#reason', 'I need the camera tonight');
      await page.selectOption('#duration', '3600');
      await Promise.all([
        page.waitForResponse(
          (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/override',
        ),
        page.click('text=Override: let it back on the internet'),
      ]);
      await page.waitForLoadState('load');
      assert.match(await page.innerText('body'), /Override in force/);
      assert.deepEqual(await routeCall(routes, 1), { kind: 'lift' });
      assert.equal(agent.state().status, 'overridden');
      await page.fill('#secret', secret);
      await Promise.all([
        page.waitForResponse(
          (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/resume',
        ),
        page.click('text=Resume: cut it off from the internet again'),
      ]);
      await page.waitForLoadState('load');
      assert.match(await page.innerText('body'), /Protection resumed/);
      assert.equal((await routeCall(routes, 2)).kind, 'apply');
      assert.equal(agent.state().status, 'quarantined');
    } finally {
      await browser.close();
    }
  },
);
