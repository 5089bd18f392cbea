/**
 * The demo's loopback fleet: every device's agent runs in this process on 127.0.0.1 — the real
 * agent daemon (core, acceptance rule, state files, owner page) with two things replaced: the
 * route layer records what it would install instead of changing the host's routes, and the
 * network monitor reports loopback as the device's network. Used when the demo cannot make
 * network namespaces (not root, no `ip netns`); the demo says so at the top.
 * @module
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAgentConfig, loadAgentTrust } from '../agent/config.ts';
import { startAgentDaemon, type RouteLayer, type RunningAgent } from '../agent/daemon.ts';
import type { NetworkMonitor, NetworkView } from '../agent/network-monitor.ts';
import type { LogLevel, LogSink } from '../logging/log.ts';
import { deviceEventOf } from './netns-agent.ts';
import { demoAgentYaml } from './agent-yaml.ts';
import type { DeviceEvent, DeviceFleet, FleetStart, OwnerPageLink } from './types.ts';

const LOOPBACK = new Uint8Array([127, 0, 0, 1]);

/** A route layer that installs nothing and remembers whether a quarantine would be in place. */
class SimulatedRoutes implements RouteLayer {
  quarantined = false;
  apply(): Promise<void> {
    this.quarantined = true;
    return Promise.resolve();
  }
  lift(): Promise<void> {
    this.quarantined = false;
    return Promise.resolve();
  }
  clearLeftovers(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

/** Loopback as the device's network: a default route, 127.0.0.1 as its own (WAN) address. */
function loopbackNetwork(): NetworkMonitor {
  const view: NetworkView = { hasDefaultRoute: true, addresses: [LOOPBACK], wanIpv4: LOOPBACK, onLink: ['127.0.0.0/8'] };
  return {
    start(onChange) {
      onChange(view);
      return Promise.resolve();
    },
    refresh: () => Promise.resolve(),
    stop: () => undefined,
  };
}

interface Running {
  readonly agent: RunningAgent;
  readonly routes: SimulatedRoutes;
  readonly configPath: string;
  readonly yaml: Parameters<typeof demoAgentYaml>[0];
  readonly log: WriteStream;
  secret?: string;
  closed: boolean;
}

/** pino's numeric levels, as the agent's JSON lines carry them. */
const PINO_LEVELS: Readonly<Record<LogLevel, number>> = { debug: 20, info: 30, warn: 40, error: 50 };

/** The loopback fleet ({@link DeviceFleet} with `mode: 'loopback'`). */
export function createLoopbackFleet(): DeviceFleet {
  const running = new Map<string, Running>();
  let stopped = false;
  // A function, not the variable: stop() may run while start() awaits (no narrowing across awaits).
  const isStopped = (): boolean => stopped;

  function sinkFor(name: string, log: WriteStream, onEvent: (event: DeviceEvent) => void): LogSink {
    return (level, event, message, fields) => {
      const atMs = Date.now();
      log.write(`${JSON.stringify({ time: new Date(atMs).toISOString(), level, event, message, ...fields })}\n`);
      // The same mapping as the netns fleet's, from the same fields its JSON lines carry.
      const status = fields?.status;
      const code = fields?.code;
      const mapped = deviceEventOf(name, {
        event,
        level: PINO_LEVELS[level],
        atMs,
        message,
        ...(typeof status === 'string' ? { status } : {}),
        ...(typeof code === 'string' ? { code } : {}),
      });
      if (mapped !== undefined) onEvent(mapped);
      else if (event === 'stopped') onEvent({ device: name, kind: 'stopped', atMs });
    };
  }

  return {
    mode: 'loopback',
    prepare: () => Promise.resolve({ listen: ['127.0.0.1'], collectorAddress: '127.0.0.1' }),

    async start(options: FleetStart): Promise<void> {
      let started = 0;
      for (const device of options.devices) {
        if (stopped) throw new Error('loopback fleet: stopped while starting');
        const home = join(options.dir, device.name);
        await mkdir(home, { recursive: true, mode: 0o700 });
        const yaml = {
          device,
          firmware: device.firmware,
          collector: options.collector,
          rootPath: options.rootPath,
          certificatePath: options.certificatePath,
          stateDir: join(home, 'state'),
          enforcement: true,
          dns: ['127.0.0.1'],
          // Port 0 here; the daemon is told to pick a free port (ownerPagePort below).
          ownerPage: { address: '127.0.0.1', port: 8080 },
        };
        const configPath = join(home, 'agent.yaml');
        await writeFile(configPath, demoAgentYaml(yaml), { mode: 0o600 });
        const settings = await loadAgentConfig(configPath);
        const trust = await loadAgentTrust(settings);
        const routes = new SimulatedRoutes();
        const log = createWriteStream(join(home, 'agent.log'), { flags: 'a', mode: 0o600 });
        const entry: Partial<Running> & { closed: boolean } = { closed: false };
        const agent = await startAgentDaemon(settings, trust, {
          log: sinkFor(device.name, log, options.onEvent),
          routes,
          network: loopbackNetwork(),
          startupWindow: null,
          systemResolvers: () => Promise.resolve(['127.0.0.1']),
          // No DNS in the demo: remediation host names resolve to nothing, quickly.
          resolver: {
            resolve4: () => Promise.resolve([]),
            resolve6: () => Promise.resolve([]),
          },
          ownerPagePort: 0,
          onOwnerSecret: (secret) => {
            entry.secret = secret;
          },
        });
        running.set(device.name, Object.assign(entry, { agent, routes, configPath, yaml, log }));
        if (isStopped()) {
          // stop() ran while this agent was starting: it did not see it, so close it here.
          await agent.close().catch(() => undefined);
          entry.closed = true;
          await new Promise<void>((resolve) => log.end(resolve));
          throw new Error('loopback fleet: stopped while starting');
        }
        started += 1;
        if (started % 5 === 0 || started === options.devices.length)
          options.progress(`started ${String(started)}/${String(options.devices.length)} agents (in this process, on loopback)`);
      }
    },

    async update(device: string, firmware: string): Promise<void> {
      const r = running.get(device);
      if (r === undefined) throw new Error(`no device ${device}`);
      await writeFile(r.configPath, demoAgentYaml({ ...r.yaml, firmware }), { mode: 0o600 });
      await r.agent.reload();
      r.agent.announceNow();
    },

    isQuarantined(device: string): Promise<boolean> {
      return Promise.resolve(running.get(device)?.routes.quarantined ?? false);
    },

    ownerPage(device: string): OwnerPageLink | undefined {
      const r = running.get(device);
      const address = r?.agent.ownerPageAddress();
      if (r?.secret === undefined || address === undefined) return undefined;
      return { url: `http://127.0.0.1:${String(address.port)}/`, secret: r.secret };
    },

    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        [...running.values()].map(async (r) => {
          try {
            await r.agent.close();
          } catch {
            // stop never rejects; leftovers() reports an agent that did not close
          }
          r.closed = true;
          await new Promise<void>((resolve) => r.log.end(resolve));
        }),
      );
    },

    leftovers(): Promise<string[]> {
      return Promise.resolve(
        [...running.entries()].filter(([, r]) => !r.closed).map(([name]) => `agent ${name} still running`),
      );
    },
  };
}
