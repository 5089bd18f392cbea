/**
 * The collector's operations listener, separate from the UDP service: `GET /metrics` (Prometheus
 * text format), `GET /healthz` (JSON; 200 while it can sign FAILs, 503 with the reason when
 * it cannot) and, when enabled, the operator dashboard under `/dashboard` (pages and a JSON API).
 * Read-only: no request body is ever read, other methods get 405, other paths 404. The dashboard
 * answers only to a Host header that cannot be a rebound name (421 otherwise).
 * Bind it to loopback or a management network (default 127.0.0.1): it is not for the Internet.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import {
  DASHBOARD_ASSETS,
  DASHBOARD_CSP,
  DASHBOARD_CSS,
  DASHBOARD_ICON_SVG,
  DASHBOARD_JS,
  DASHBOARD_PAGE_HTML,
  VENDORS_PAGE_HTML,
} from './dashboard-page.ts';
import { METRICS_CONTENT_TYPE, type ServingStatus } from './metrics.ts';

/** The dashboard's JSON API (dashboard-service.ts); its answers are sent as JSON. */
export interface DashboardHandlers {
  /** `GET /dashboard/api/summary`. */
  summary(): Promise<object>;
  /** `GET /dashboard/api/vendors`. */
  vendors(): Promise<object>;
}

/** What the listener serves. */
export interface OpsHandlers {
  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string>;
  /** The serving status for /healthz. */
  status(): ServingStatus;
  /** Epoch seconds; default the wall clock. */
  readonly nowSeconds?: () => number;
  /** The dashboard, when enabled; absent, its paths are 404 like any other. */
  readonly dashboard?: DashboardHandlers;
}

/** Where the listener binds, and the host names its dashboard answers to. */
export interface OpsListen {
  readonly address: string;
  readonly port: number;
  /** `metrics.dashboard.allowedHosts`: lower-case names besides IP literals and `localhost`. */
  readonly dashboard?: { readonly allowedHosts: readonly string[] };
}

/**
 * The host part of a Host header value (RFC 9110 §7.2: uri-host [":" port]), lower case, without
 * a trailing dot and with IPv6 brackets removed; undefined when absent or malformed.
 */
export function hostOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = header.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed !== null) return bracketed[1];
  const plain = /^([^:[\]]+)(?::\d{1,5})?$/.exec(value);
  return plain?.[1]?.replace(/\.$/, '');
}

/**
 * Whether the dashboard answers a request with this Host header. DNS rebinding (a page of the
 * attacker's name re-resolved to this listener) always carries the attacker's name: an IP
 * literal cannot be rebound, `localhost` resolves locally (RFC 6761 §6.3), and any other name
 * must be one the operator listed.
 */
export function isDashboardHost(header: string | undefined, allowedHosts: readonly string[]): boolean {
  const host = hostOf(header);
  if (host === undefined) return false;
  return isIP(host) !== 0 || host === 'localhost' || allowedHosts.includes(host);
}

/** The /healthz body. */
export interface Health {
  readonly status: 'ok' | 'degraded';
  /** Why not ok: `NO_FEED`, `FEED_EXPIRED`, `CERTIFICATE_EXPIRED`. */
  readonly problems: readonly string[];
  readonly feedVersion: number | null;
  readonly feedExpiresInSeconds: number | null;
  readonly certificateExpiresInSeconds: number | null;
}

/** The health of a collector serving `status` at `nowSeconds`. */
export function healthOf(status: ServingStatus, nowSeconds: number): Health {
  const problems: string[] = [];
  const feed = status.feed;
  if (feed === undefined) problems.push('NO_FEED');
  else if (feed.expiresAt <= nowSeconds) problems.push('FEED_EXPIRED');
  const notAfter = status.certificateNotAfter;
  if (notAfter !== undefined && notAfter <= nowSeconds) problems.push('CERTIFICATE_EXPIRED');
  return {
    status: problems.length === 0 ? 'ok' : 'degraded',
    problems,
    feedVersion: feed?.version ?? null,
    feedExpiresInSeconds: feed === undefined ? null : feed.expiresAt - nowSeconds,
    certificateExpiresInSeconds: notAfter === undefined ? null : notAfter - nowSeconds,
  };
}

/** Headers of every answer: never cached, never sniffed into another type. */
function send(res: ServerResponse, code: number, type: string, body: string, extra: Readonly<Record<string, string>> = {}): void {
  res.writeHead(code, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...extra,
  });
  res.end(body);
}

/** Extra headers of the dashboard's pages (CSP Level 3; RFC 7034 X-Frame-Options for older browsers). */
const PAGE_HEADERS = Object.freeze({
  'content-security-policy': DASHBOARD_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
});

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** The dashboard's static answers by path: content type and body. */
const DASHBOARD_STATIC: ReadonlyMap<string, readonly [string, string]> = new Map([
  ['/dashboard', [HTML, DASHBOARD_PAGE_HTML]],
  ['/dashboard/', [HTML, DASHBOARD_PAGE_HTML]],
  ['/dashboard/vendors', [HTML, VENDORS_PAGE_HTML]],
  [DASHBOARD_ASSETS.script, ['text/javascript; charset=utf-8', DASHBOARD_JS]],
  [DASHBOARD_ASSETS.styles, ['text/css; charset=utf-8', DASHBOARD_CSS]],
  [DASHBOARD_ASSETS.icon, ['image/svg+xml', DASHBOARD_ICON_SVG]],
]);
const DASHBOARD_API = new Set(['/dashboard/api/summary', '/dashboard/api/vendors']);

async function handle(
  handlers: OpsHandlers,
  allowedHosts: readonly string[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const dashboard = handlers.dashboard;
  const known =
    path === '/metrics' ||
    path === '/healthz' ||
    (dashboard !== undefined && (DASHBOARD_STATIC.has(path) || DASHBOARD_API.has(path)));
  if (!known) {
    const hint = dashboard === undefined ? 'try /metrics or /healthz' : 'try /metrics, /healthz or /dashboard';
    send(res, 404, 'text/plain; charset=utf-8', `not found: ${hint}\n`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: GET only\n');
    return;
  }
  if (path === '/healthz') {
    const now = handlers.nowSeconds ?? ((): number => Math.floor(Date.now() / 1000));
    const health = healthOf(handlers.status(), now());
    send(res, health.status === 'ok' ? 200 : 503, 'application/json', `${JSON.stringify(health)}\n`);
    return;
  }
  if (path === '/metrics') {
    send(res, 200, METRICS_CONTENT_TYPE, await handlers.metrics());
    return;
  }
  if (dashboard === undefined) return; // unreachable: `known` checked it
  // Against DNS rebinding; /metrics and /healthz stay reachable by any name (Prometheus, probes).
  if (!isDashboardHost(req.headers.host, allowedHosts)) {
    send(
      res,
      421,
      'text/plain; charset=utf-8',
      'misdirected request: the dashboard answers to an IP address, localhost or a name in metrics.dashboard.allowedHosts\n',
    );
    return;
  }
  const page = DASHBOARD_STATIC.get(path);
  if (page !== undefined) {
    send(res, 200, page[0], page[1], page[0] === HTML ? PAGE_HEADERS : {});
    return;
  }
  const body = path === '/dashboard/api/vendors' ? await dashboard.vendors() : await dashboard.summary();
  send(res, 200, JSON_TYPE, `${JSON.stringify(body)}\n`);
}

/** A listening operations server. */
export interface OpsServer {
  readonly address: { address: string; port: number };
  close(): Promise<void>;
}

/**
 * Listens on `address`:`port` (0: any free port). Rejects naming the address on a port in use.
 * @example const ops = await startOpsServer({ address: '127.0.0.1', port: 9464 }, { metrics, status });
 */
export async function startOpsServer(listen: OpsListen, handlers: OpsHandlers): Promise<OpsServer> {
  const allowedHosts = listen.dashboard?.allowedHosts ?? [];
  const server: Server = createServer((req, res) => {
    // A request body is never read: drain nothing, answer from the path and method alone.
    handle(handlers, allowedHosts, req, res).catch(() => {
      // An internal error never reaches the client as text.
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  // Slow or idle clients cannot hold connections open.
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 32;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const where = listen.address.includes(':') ? `[${listen.address}]:${listen.port}` : `${listen.address}:${listen.port}`;
      reject(new Error(`metrics listener ${where}: ${err.code ?? 'error'}: ${err.code === 'EADDRINUSE' ? 'the port is in use; change metrics.port' : err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(listen.port, listen.address, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('metrics listener: no TCP address');
  return {
    address: { address: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
