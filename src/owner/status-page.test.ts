import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { browserSkipReason, launchBrowser, type TestBrowser } from '../testing/browser.ts';
import {
  createFakeAgent,
  createMemoryLog,
  type FakeAgent,
  type LoggedEvent,
} from '../testing/owner-page-fixture.ts';
import type { PublicDetail } from './page-html.ts';
import { defaultAllowedHosts, startStatusPage } from './status-page.ts';

const skip = browserSkipReason();
let chromium: TestBrowser | undefined;

before(async () => {
  if (skip !== undefined) return;
  // A real DNS rebinding in the browser: attacker.example resolves to the page's loopback address.
  chromium = await launchBrowser({
    extraArgs: ['--host-resolver-rules=MAP attacker.example 127.0.0.1'],
  });
});
after(async () => {
  await chromium?.close();
});

interface Served {
  readonly url: string;
  readonly port: number;
  readonly secret: string;
  readonly agent: FakeAgent;
  readonly events: LoggedEvent[];
  readonly page: Page;
  /** Console errors and uncaught page errors seen so far. */
  readonly consoleErrors: string[];
}

/** A status page on 127.0.0.1 with a fake agent, and a browser tab; both closed after the test. */
async function serve(t: TestContext, publicDetail: PublicDetail = 'status-only'): Promise<Served> {
  if (chromium === undefined) throw new Error('no browser');
  const dir = await mkdtemp(join(tmpdir(), 'tattler-owner-page-'));
  const agent = createFakeAgent();
  const { log, events } = createMemoryLog();
  const started = await startStatusPage(
    {
      address: '127.0.0.1',
      port: 0,
      public: publicDetail,
      secretPath: join(dir, 'owner-secret.json'),
    },
    {
      status: () => agent.status(),
      override: (r, s) => agent.override(r, s),
      resume: () => agent.resume(),
      clock: { monotonicMs: () => performance.now() },
      log,
    },
  );
  const page = await chromium.context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  t.after(async () => {
    await page.close();
    await started.close();
    await rm(dir, { recursive: true, force: true });
  });
  if (started.newSecret === undefined) throw new Error('a first start prints a secret');
  const port = started.address.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    secret: started.newSecret,
    agent,
    events,
    page,
    consoleErrors,
  };
}

/** Clicks `button` and waits for the POST it sends to `path`; returns that response's status. */
async function submit(page: Page, button: string, path: string): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === path,
    ),
    page.click(button),
  ]);
  await page.waitForLoadState('load');
  return response.status();
}

/** A request from Node, with any Host header (a browser cannot be made to send one). */
function rawRequest(
  port: number,
  options: { method: string; path: string; headers: Record<string, string> },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method,
        path: options.path,
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test(
  'the page shows the quarantine and its reason after logging in, only the status word before',
  { skip },
  async (t) => {
    const { url, page, secret, consoleErrors } = await serve(t);
    const response = await page.goto(url);
    assert.ok(response !== null);
    assert.equal(response.status(), 200);
    const headers = response.headers();
    const csp = headers['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /style-src 'sha256-/);
    assert.match(csp, /form-action 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(headers['referrer-policy'], 'same-origin');
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['cache-control'], 'no-store');
    assert.equal(Object.keys(headers).filter((h) => h.startsWith('access-control-')).length, 0);
    const before = await page.innerText('body');
    assert.match(before, /Status: cut off from the internet/);
    assert.match(before, /Log in to see details/);
    assert.doesNotMatch(before, /CVE-|DIR-859/);
    await page.fill('#secret', secret.toLowerCase());
    assert.equal(await submit(page, 'button[type=submit]', '/login'), 200);
    const text = await page.innerText('body');
    assert.match(text, /Your D-Link DIR-859 is cut off from the internet/);
    assert.match(
      text,
      /CVE-2019-17621: severity 9\.8 of 10 \(critical\)\. Attackers are exploiting this\./,
    );
    assert.match(text, /since 2026-11-26 06:00 UTC/);
    assert.match(text, /Update the firmware to version 1\.06B01 or later/);
    assert.equal(
      await page.getAttribute('a[href="https://support.dlink.com/"]', 'rel'),
      'noreferrer noopener',
    );
    assert.match(
      text,
      /What still works[\s\S]*Your home network[\s\S]*What does not work[\s\S]*The internet/,
    );
    assert.match(text, /covers only CVE-2019-17621/);
    assert.deepEqual(consoleErrors, []);
  },
);

test(
  'override with the secret puts the device back online; resume quarantines it again',
  { skip },
  async (t) => {
    const { url, page, secret, agent, consoleErrors } = await serve(t, 'full');
    await page.goto(url);
    await page.fill('#secret', secret);
    await page.fill('#reason', 'I need the camera tonight');
    await page.selectOption('#duration', '3600');
    assert.equal(
      await submit(page, 'text=Override: let it back on the internet', '/override'),
      200,
    );
    assert.match(await page.innerText('body'), /Override in force/);
    assert.equal(agent.status().status, 'overridden');
    assert.deepEqual(agent.calls, [
      { kind: 'override', reason: 'I need the camera tonight', forSeconds: 3600 },
    ]);
    assert.match(
      await page.innerText('body'),
      /Reason given for the override: “I need the camera tonight”/,
    );
    await page.fill('#secret', secret);
    assert.equal(
      await submit(page, 'text=Resume: cut it off from the internet again', '/resume'),
      200,
    );
    assert.match(await page.innerText('body'), /Protection resumed/);
    assert.equal(agent.status().status, 'quarantined');
    assert.deepEqual(consoleErrors, []);
  },
);

test('a wrong secret is refused and changes nothing', { skip }, async (t) => {
  const { url, page, agent, events, consoleErrors } = await serve(t, 'full');
  await page.goto(url);
  await page.fill('#secret', 'AAAAA-AAAAA-AAAAA-AAAAA');
  await page.fill('#reason', 'guess');
  assert.equal(await submit(page, 'text=Override: let it back on the internet', '/override'), 403);
  assert.match(await page.innerText('body'), /That is not the owner secret/);
  assert.equal(agent.status().status, 'quarantined');
  assert.deepEqual(agent.calls, []);
  assert.equal(events.filter((e) => e.event === 'owner_secret_wrong').length, 1);
  assert.deepEqual(
    consoleErrors.filter((m) => !/status of 403/.test(m)),
    [],
  );
});

test('a form without its token is refused, even with the right secret', { skip }, async (t) => {
  const { url, page, secret, agent } = await serve(t, 'full');
  await page.goto(url);
  await page
    .locator('form[action="/override"] input[name=token]')
    .evaluate((input: { remove(): void }) => {
      input.remove();
    });
  await page.fill('#secret', secret);
  await page.fill('#reason', 'no token');
  assert.equal(await submit(page, 'text=Override: let it back on the internet', '/override'), 403);
  assert.match(await page.innerText('body'), /The form was incomplete or is not from this page/);
  assert.deepEqual(agent.calls, []);
});

test(
  'a cross-site form that auto-submits to the page is refused, even with the secret and a token',
  { skip },
  async (t) => {
    const { url, port, page, secret, agent } = await serve(t, 'full');
    // The attacker is given everything but the origin: a valid token and the secret itself.
    await page.goto(url);
    const token = await page.getAttribute('form[action="/override"] input[name=token]', 'value');
    assert.ok(token !== null);
    const target = `http://127.0.0.1:${port}/override`;
    const evil = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><form method="post" action="${target}">
<input name="token" value="${token}"><input name="secret" value="${secret}">
<input name="reason" value="csrf"><input name="duration" value="until-resume"></form>
<script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    t.after(
      () =>
        new Promise<void>((resolve) => {
          evil.close(() => {
            resolve();
          });
          // Chromium keeps its connection alive; close() alone would wait for it.
          evil.closeAllConnections();
        }),
    );
    const address = evil.address();
    assert.ok(address !== null && typeof address === 'object');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST'),
      page.goto(`http://127.0.0.1:${address.port}/`),
    ]);
    assert.equal(response.status(), 403);
    const sent = await response.request().allHeaders();
    assert.equal(
      sent.origin,
      `http://127.0.0.1:${address.port}`,
      'the browser named the foreign origin',
    );
    assert.deepEqual(agent.calls, []);
    assert.equal(agent.status().status, 'quarantined');
  },
);

test(
  'a rebinding Host header is refused with 421, in the browser and from any client',
  { skip },
  async (t) => {
    const { port, page } = await serve(t, 'full');
    const response = await page.goto(`http://attacker.example:${port}/`);
    assert.equal(response?.status(), 421);
    assert.doesNotMatch(await page.innerText('body'), /CVE|cut off|token/);
    const raw = await rawRequest(port, {
      method: 'GET',
      path: '/',
      headers: { host: 'attacker.example' },
    });
    assert.equal(raw.status, 421);
    assert.ok(raw.body.length < 100, 'a minimal body');
  },
);

test('preflights and Private Network Access requests get no grant', { skip }, async (t) => {
  const { port } = await serve(t);
  const preflight = await rawRequest(port, {
    method: 'OPTIONS',
    path: '/override',
    headers: {
      host: `127.0.0.1:${port}`,
      origin: 'http://public.example',
      'access-control-request-method': 'POST',
      'access-control-request-private-network': 'true',
    },
  });
  assert.equal(preflight.status, 403);
  const plain = await rawRequest(port, {
    method: 'OPTIONS',
    path: '/',
    headers: { host: `127.0.0.1:${port}`, origin: 'http://public.example' },
  });
  assert.equal(plain.status, 405);
  for (const res of [preflight, plain])
    assert.deepEqual(
      Object.keys(res.headers).filter((h) => h.startsWith('access-control-')),
      [],
    );
});

test(
  'lockout engages after 5 wrong secrets, refuses the right one, and the page says so',
  { skip },
  async (t) => {
    const { url, page, secret, events } = await serve(t);
    await page.goto(url);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      await page.fill('#secret', `WRONG-${i}`);
      statuses.push(await submit(page, 'button[type=submit]', '/login'));
    }
    assert.deepEqual(statuses, [403, 403, 403, 403, 429]);
    await page.fill('#secret', secret);
    assert.equal(await submit(page, 'button[type=submit]', '/login'), 429);
    await page.goto(url);
    assert.match(
      await page.innerText('body'),
      /Too many attempts with a wrong owner secret[^\n]*Try again in \d+ seconds/,
    );
    assert.equal(events.filter((e) => e.event === 'owner_lockout').length, 1);
  },
);

test('defaultAllowedHosts() is localhost, the bind address unless a wildcard, and the configured names', () => {
  assert.deepEqual(defaultAllowedHosts('0.0.0.0', ['Camera.Local.']), [
    'localhost',
    'camera.local',
  ]);
  assert.deepEqual(defaultAllowedHosts('::'), ['localhost']);
  assert.deepEqual(defaultAllowedHosts('192.168.1.20', ['camera.local']), [
    'localhost',
    '192.168.1.20',
    'camera.local',
  ]);
  assert.deepEqual(defaultAllowedHosts('[FE80::1]'), ['localhost', 'fe80::1']);
});
