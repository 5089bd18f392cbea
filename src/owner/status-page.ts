/**
 * The owner's status page on the LAN: a node:http shell around {@link createStatusPageApp}. It
 * opens the owner secret store (generating the secret at first start), draws a random form-token
 * key, reads a body only for form posts and only up to the cap, and never sends internal errors.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { openOwnerSecret } from './owner-secret.ts';
import type { PublicDetail } from './page-html.ts';
import {
  BodyTooLargeError,
  createStatusPageApp,
  type PageResponse,
  type StatusPageDeps,
} from './status-page-app.ts';

export type { StatusPageDeps } from './status-page-app.ts';

/** Where and how the page is served (the agent config's `statusPage` section). */
export interface StatusPageOptions {
  /** Bind address: a LAN address of the device, or `0.0.0.0` / `::` for all. */
  readonly address: string;
  /** TCP port; 0 picks a free one (tests). */
  readonly port: number;
  /** Further names the page answers to (`camera.local`), besides the bind address and `localhost`. */
  readonly allowedHosts?: readonly string[];
  /** What a viewer sees without the secret; default `status-only`. */
  readonly public?: PublicDetail;
  /** The owner secret store (JSON, mode 0600); created with a fresh secret when missing. */
  readonly secretPath: string;
}

/** A listening status page. */
export interface StatusPage {
  readonly address: { readonly address: string; readonly port: number };
  /** The secret generated at this first start, for the daemon to print once; absent afterwards. */
  readonly newSecret?: string;
  close(): Promise<void>;
}

const WILDCARDS: readonly string[] = ['0.0.0.0', '::', ''];

/** The Host names the page answers to by default, plus `extra`: the bind address (unless a wildcard) and `localhost`. */
export function defaultAllowedHosts(address: string, extra: readonly string[] = []): string[] {
  const names = ['localhost', ...(WILDCARDS.includes(address) ? [] : [address]), ...extra];
  return [
    ...new Set(
      names.map((name) =>
        name
          .toLowerCase()
          .replace(/^\[(.*)\]$/, '$1')
          .replace(/\.$/, ''),
      ),
    ),
  ];
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        reject(new BodyTooLargeError(`body over ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.once('error', reject);
  });
}

function headersOf(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers))
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}

function write(res: ServerResponse, response: PageResponse, withBody: boolean): void {
  res.writeHead(response.status, {
    ...response.headers,
    'content-length': Buffer.byteLength(response.body),
  });
  res.end(withBody ? response.body : undefined);
}

/**
 * Serves the status page on `options.address`:`options.port`. Rejects naming the address when the
 * port is in use, and when the secret store exists but cannot be read.
 * @example const page = await startStatusPage({ address: '0.0.0.0', port: 8080, secretPath }, deps); if (page.newSecret) console.log(page.newSecret);
 */
export async function startStatusPage(
  options: StatusPageOptions,
  deps: StatusPageDeps,
): Promise<StatusPage> {
  const { verifier, newSecret } = await openOwnerSecret(options.secretPath);
  const app = createStatusPageApp(
    {
      allowedHosts: defaultAllowedHosts(options.address, options.allowedHosts),
      publicDetail: options.public ?? 'status-only',
      verifier,
      tokenKey: randomBytes(32),
    },
    deps,
  );
  const server: Server = createServer({ maxHeaderSize: 8192 }, (req, res) => {
    const request = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: headersOf(req),
      readBody: (maxBytes: number) => readBody(req, maxBytes),
      ...(req.socket.localAddress === undefined ? {} : { localAddress: req.socket.localAddress }),
    };
    app
      .request(request)
      .then((response) => {
        write(res, response, req.method !== 'HEAD');
      })
      .catch((err: unknown) => {
        deps.log(
          'error',
          'owner_page_error',
          `the status page failed a request: ${err instanceof Error ? err.message : 'unknown error'}`,
        );
        // An internal error never reaches the client as text.
        if (res.headersSent) res.destroy();
        else
          write(
            res,
            {
              status: 500,
              headers: {
                'content-type': 'text/plain; charset=utf-8',
                'cache-control': 'no-store',
                'x-content-type-options': 'nosniff',
              },
              body: 'internal error: try again; if it persists, restart the device\n',
            },
            true,
          );
      });
  });
  // Slow or idle clients cannot hold connections open; a LAN page needs few connections.
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 32;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const where = options.address.includes(':')
        ? `[${options.address}]:${options.port}`
        : `${options.address}:${options.port}`;
      reject(
        new Error(
          `status page ${where}: ${err.code ?? 'error'}: ${err.code === 'EADDRINUSE' ? 'the port is in use; change statusPage.port' : err.message}`,
          { cause: err },
        ),
      );
    };
    server.once('error', onError);
    server.listen(options.port, options.address, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('status page: no TCP address');
  deps.log(
    'info',
    'owner_page_listening',
    `status page listening on ${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
  );
  return {
    address: { address: bound.address, port: bound.port },
    ...(newSecret === undefined ? {} : { newSecret }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
