import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createFakeAgent,
  createManualClock,
  createMemoryLog,
  QUARANTINED,
  type FakeAgent,
} from '../testing/owner-page-fixture.ts';
import { issueFormToken } from './form-token.ts';
import { LOCKOUT_AFTER_FAILURES } from './lockout.ts';
import type { PublicDetail } from './page-html.ts';
import {
  BodyTooLargeError,
  createStatusPageApp,
  crossOriginProblem,
  isAllowedHost,
  type PageRequest,
  type PageResponse,
  type StatusPageApp,
} from './status-page-app.ts';
import type { OwnerStatus } from './types.ts';

const SECRET = 'RIGHT-SECRET';
const HOST = '192.168.1.20:8080';
const ORIGIN = `http://${HOST}`;
const KEY = new Uint8Array(32).fill(1);

interface Harness {
  readonly app: StatusPageApp;
  readonly agent: FakeAgent;
  readonly clock: ReturnType<typeof createManualClock>;
  readonly events: ReturnType<typeof createMemoryLog>['events'];
}

function harness(
  options: {
    status?: OwnerStatus;
    publicDetail?: PublicDetail;
    verify?: (c: string) => Promise<boolean>;
  } = {},
): Harness {
  const agent = createFakeAgent(options.status ?? QUARANTINED);
  const clock = createManualClock();
  const { log, events } = createMemoryLog();
  const app = createStatusPageApp(
    {
      allowedHosts: ['localhost', '192.168.1.20', 'camera.local'],
      publicDetail: options.publicDetail ?? 'status-only',
      verifier: { verify: options.verify ?? ((c) => Promise.resolve(c === SECRET)) },
      tokenKey: KEY,
    },
    {
      status: () => agent.status(),
      override: (r, s) => agent.override(r, s),
      resume: () => agent.resume(),
      clock,
      log,
    },
  );
  return { app, agent, clock, events };
}

function get(
  app: StatusPageApp,
  headers: Record<string, string> = {},
  url = '/',
): Promise<PageResponse> {
  return app.request({
    method: 'GET',
    url,
    headers: { host: HOST, ...headers },
    readBody: () => Promise.reject(new Error('no body for GET')),
  });
}

function tokenFrom(html: string, action: string): string {
  const match = new RegExp(
    `action="/${action}">\\n<input type="hidden" name="token" value="([^"]+)"`,
  ).exec(html);
  if (match?.[1] === undefined) throw new Error(`no ${action} form in the page`);
  return match[1];
}

function post(
  app: StatusPageApp,
  action: string,
  fields: Record<string, string>,
  headers: Record<string, string | undefined> = {},
): Promise<PageResponse> {
  return postRaw(app, action, new URLSearchParams(fields).toString(), headers);
}

function postRaw(
  app: StatusPageApp,
  action: string,
  body: string,
  headers: Record<string, string | undefined> = {},
): Promise<PageResponse> {
  const request: PageRequest = {
    method: 'POST',
    url: `/${action}`,
    headers: {
      host: HOST,
      origin: ORIGIN,
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(body.length),
      ...headers,
    },
    readBody: (max) =>
      body.length > max ? Promise.reject(new BodyTooLargeError('big')) : Promise.resolve(body),
  };
  return app.request(request);
}

async function token(app: StatusPageApp, action: string): Promise<string> {
  const page = await get(app);
  if (page.body.includes(`action="/${action}"`)) return tokenFrom(page.body, action);
  const full = await post(app, 'login', { token: tokenFrom(page.body, 'login'), secret: SECRET });
  return tokenFrom(full.body, action);
}

test('isAllowedHost() takes allowed names and the local address, refuses any other name', () => {
  const allowed = ['localhost', 'camera.local'];
  assert.equal(isAllowedHost('camera.local', allowed), true);
  assert.equal(isAllowedHost('CAMERA.local.:8080', allowed), true);
  assert.equal(isAllowedHost('localhost:1234', allowed), true);
  assert.equal(isAllowedHost('attacker.example', allowed, '127.0.0.1'), false);
  assert.equal(isAllowedHost('127.0.0.1:80', allowed, '127.0.0.1'), true);
  assert.equal(isAllowedHost('192.168.1.20', allowed, '::ffff:192.168.1.20'), true);
  assert.equal(isAllowedHost('[fe80:0::1]:8080', allowed, 'fe80::1'), true);
  assert.equal(isAllowedHost('10.0.0.1', allowed, '127.0.0.1'), false);
  assert.equal(isAllowedHost(undefined, allowed), false);
  assert.equal(isAllowedHost('user@camera.local', allowed), false);
  assert.equal(isAllowedHost('camera.local/x', allowed), false);
});

test('crossOriginProblem() wants the same origin in Origin, else in Referer', () => {
  assert.equal(crossOriginProblem({ host: HOST, origin: ORIGIN }), undefined);
  assert.equal(crossOriginProblem({ host: HOST, referer: `${ORIGIN}/` }), undefined);
  assert.equal(crossOriginProblem({ host: HOST }), 'no origin or referer');
  assert.equal(crossOriginProblem({ host: HOST, origin: 'null' }), 'origin not a URL');
  assert.equal(
    crossOriginProblem({ host: HOST, origin: 'http://192.168.1.20:8081' }),
    'foreign origin',
  );
  assert.equal(crossOriginProblem({ host: HOST, origin: `https://${HOST}` }), 'foreign origin');
  assert.equal(
    crossOriginProblem({ host: HOST, origin: ORIGIN, 'sec-fetch-site': 'same-site' }),
    'sec-fetch-site same-site',
  );
  assert.equal(
    crossOriginProblem({ host: HOST, origin: 'http://evil.example', referer: `${ORIGIN}/` }),
    'foreign origin',
  );
});

test('GET / under status-only shows the status word and a login form, no details', async () => {
  const { app } = harness();
  const res = await get(app);
  assert.equal(res.status, 200);
  assert.match(res.body, /Status: cut off from the internet/);
  assert.match(res.body, /Log in to see details/);
  assert.doesNotMatch(res.body, /CVE-2019-17621|DIR-859|1\.05B03|support\.dlink/);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.match(
    res.headers['content-security-policy'] ?? '',
    /default-src 'none'.*form-action 'self'.*frame-ancestors 'none'/,
  );
  assert.equal(Object.keys(res.headers).filter((h) => h.startsWith('access-control')).length, 0);
});

test('POST /login with the secret shows the details', async () => {
  const { app } = harness();
  const res = await post(app, 'login', { token: await token(app, 'login'), secret: SECRET });
  assert.equal(res.status, 200);
  assert.match(
    res.body,
    /CVE-2019-17621<\/strong>: severity 9\.8 of 10 \(critical\)\. Attackers are exploiting this\./,
  );
  assert.match(res.body, /href="https:\/\/support\.dlink\.com\/"/);
});

test('the page escapes everything from the status', async () => {
  const nasty = '<script>alert(1)</script>"\'&';
  const { app } = harness({
    publicDetail: 'full',
    status: {
      ...QUARANTINED,
      status: 'overridden',
      device: { vendor: nasty, model: nasty, softwareVersion: nasty },
      advisories: [{ id: nasty, exploited: false }],
      fixedVersions: [nasty],
      updateHosts: ['javascript:alert(1)', 'ok.example'],
      override: { reason: nasty },
    },
  });
  const res = await get(app);
  assert.ok(!res.body.includes('<script>'));
  assert.ok(res.body.includes('&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;&#38;'));
  assert.ok(!res.body.includes('javascript:'), 'a host that is not a DNS name is not linked');
  assert.match(res.body, /href="https:\/\/ok\.example\/"/);
});

test('a Host not in the allowlist gets 421 and a minimal body; PNA and OPTIONS get no grant', async () => {
  const { app } = harness();
  const rebound = await get(app, { host: 'attacker.example:8080' });
  assert.equal(rebound.status, 421);
  assert.equal(rebound.headers['content-type'], 'text/plain; charset=utf-8');
  assert.doesNotMatch(rebound.body, /quarantin|cut off/);
  const pna = await get(app, { 'access-control-request-private-network': 'true' });
  assert.equal(pna.status, 403);
  const preflight = await app.request({
    method: 'OPTIONS',
    url: '/override',
    headers: { host: HOST, origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    readBody: () => Promise.resolve(''),
  });
  assert.equal(preflight.status, 405);
  for (const res of [rebound, pna, preflight])
    assert.equal(Object.keys(res.headers).filter((h) => h.startsWith('access-control')).length, 0);
});

test('override and resume with the secret flip the status and are logged', async () => {
  const { app, agent, events } = harness({ publicDetail: 'full' });
  const overridden = await post(app, 'override', {
    token: await token(app, 'override'),
    secret: SECRET,
    reason: '  need   the camera tonight ',
    duration: '3600',
  });
  assert.equal(overridden.status, 200);
  assert.match(overridden.body, /Override in force/);
  assert.deepEqual(agent.calls, [
    { kind: 'override', reason: 'need the camera tonight', forSeconds: 3600 },
  ]);
  assert.equal(agent.status().status, 'overridden');
  const resumed = await post(app, 'resume', {
    token: tokenFrom(overridden.body, 'resume'),
    secret: SECRET,
  });
  assert.equal(resumed.status, 200);
  assert.equal(agent.status().status, 'quarantined');
  assert.deepEqual(
    events.filter((e) => e.level === 'info').map((e) => e.event),
    ['owner_override', 'owner_resume'],
  );
});

test('form posts are refused without the same origin, a token for that form, or a fresh token', async () => {
  const { app, agent, clock } = harness({ publicDetail: 'full' });
  const good = {
    token: await token(app, 'override'),
    secret: SECRET,
    reason: 'r',
    duration: 'until-resume',
  };
  const cases: readonly [
    string,
    Record<string, string>,
    Record<string, string | undefined>,
    number,
  ][] = [
    ['no origin', good, { origin: undefined }, 403],
    ['null origin', good, { origin: 'null' }, 403],
    ['foreign origin', good, { origin: 'http://evil.example' }, 403],
    ['cross-site fetch metadata', good, { 'sec-fetch-site': 'cross-site' }, 403],
    ['no token', { ...good, token: '' }, {}, 403],
    ['login token', { ...good, token: issueFormToken(KEY, 'login', clock.monotonicMs()) }, {}, 403],
    ['no reason', { ...good, reason: ' ' }, {}, 400],
    ['control character in reason', { ...good, reason: 'a\u0007b' }, {}, 400],
    ['unknown duration', { ...good, duration: '99' }, {}, 400],
    ['JSON body', good, { 'content-type': 'application/json' }, 415],
  ];
  for (const [name, fields, headers, status] of cases) {
    assert.equal((await post(app, 'override', fields, headers)).status, status, name);
  }
  const duplicated = `${new URLSearchParams(good).toString()}&secret=other`;
  assert.equal((await postRaw(app, 'override', duplicated)).status, 400, 'duplicate field');
  assert.equal((await post(app, 'override', { ...good, reason: 'x'.repeat(5000) })).status, 413);
  clock.advance(11 * 60 * 1000);
  const expired = await post(app, 'override', good);
  assert.equal(expired.status, 403);
  assert.match(expired.body, /open too long/);
  assert.deepEqual(agent.calls, []);
});

test('a wrong secret is refused; the 5th locks every secret out, says so, and logs it', async () => {
  const { app, agent, clock, events } = harness({ publicDetail: 'full' });
  const tokenValue = await token(app, 'override');
  const fields = { token: tokenValue, reason: 'r', duration: '3600' };
  for (let i = 1; i < LOCKOUT_AFTER_FAILURES; i += 1) {
    const res = await post(app, 'override', { ...fields, secret: `wrong-${i}` });
    assert.equal(res.status, 403);
    assert.match(res.body, /not the owner secret/);
  }
  const fifth = await post(app, 'override', { ...fields, secret: 'wrong-5' });
  assert.equal(fifth.status, 429);
  assert.equal(fifth.headers['retry-after'], '30');
  const right = await post(app, 'override', { ...fields, secret: SECRET });
  assert.equal(right.status, 429, 'even the right secret waits');
  assert.match(
    (await get(app)).body,
    /Too many attempts with a wrong owner secret[^<]*Try again in 30 seconds/,
  );
  assert.equal(events.filter((e) => e.event === 'owner_lockout').length, 1);
  clock.advance(30_000);
  const after = await post(app, 'override', { ...fields, secret: SECRET });
  assert.equal(after.status, 200);
  assert.equal(agent.calls.length, 1);
});

test('override when not quarantined, resume when not overridden: 409, nothing asked of the agent', async () => {
  const { app, agent } = harness({ publicDetail: 'full' });
  const overrideToken = await token(app, 'override');
  agent.set({ ...QUARANTINED, status: 'clear', advisories: [] });
  assert.equal(
    (await post(app, 'override', { token: overrideToken, secret: SECRET, reason: 'r' })).status,
    409,
  );
  agent.set({ ...QUARANTINED, status: 'overridden', override: { reason: 'r' } });
  const resumeToken = tokenFrom((await get(app)).body, 'resume');
  agent.set(QUARANTINED);
  assert.equal((await post(app, 'resume', { token: resumeToken, secret: SECRET })).status, 409);
  assert.deepEqual(agent.calls, []);
});

test('internal failures reach the owner as advice, never as the error text', async () => {
  const broken = harness({
    verify: () => Promise.reject(new Error('EACCES: /var/lib/tattler/owner-secret.json')),
  });
  const res = await post(broken.app, 'login', {
    token: await token(broken.app, 'login'),
    secret: SECRET,
  });
  assert.equal(res.status, 503);
  assert.doesNotMatch(res.body, /EACCES|\/var\/lib/);
  assert.equal(broken.events.filter((e) => e.event === 'owner_secret_unreadable').length, 1);
});

test('mode off is said on the page, also without logging in', async () => {
  const { app } = harness({
    status: { ...QUARANTINED, status: 'off', mode: 'off', advisories: [] },
  });
  assert.match(
    (await get(app)).body,
    /Tattler is turned off on this device \(mode: off\); it does not check for known vulnerabilities\./,
  );
});

test('unknown paths get 404, wrong methods 405, HEAD works', async () => {
  const { app } = harness();
  assert.equal((await get(app, {}, '/admin')).status, 404);
  assert.equal((await get(app, {}, '/override')).status, 405);
  const head = await app.request({
    method: 'HEAD',
    url: '/',
    headers: { host: HOST },
    readBody: () => Promise.resolve(''),
  });
  assert.equal(head.status, 200);
  assert.equal(
    (
      await app.request({
        method: 'DELETE',
        url: '/',
        headers: { host: HOST },
        readBody: () => Promise.resolve(''),
      })
    ).status,
    405,
  );
});
