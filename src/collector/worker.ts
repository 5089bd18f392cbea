/**
 * Entry point of one collector worker process, forked by cluster.ts: runs the single-process
 * collector (udp.ts) on the sockets the primary shares, and answers the primary's messages
 * (reload, stop, scrape, vendor report); on stop it closes its sockets, sends its final
 * counters and exits. Its notify events go to the primary, the store's one writer.
 * @module
 */
import cluster from 'node:cluster';
import { LOG_FORMATS, LOG_LEVELS, createLogSink, type LogFormat, type LogLevel } from '../logging/log.ts';
import { WORKER_ENV, type FromWorker, type ToWorker } from './cluster.ts';
import { loadCollectorConfig } from './config.ts';
import type { NotifyEvent, NotifySink } from './notify-store.ts';
import { startCollector, type RunningCollector } from './udp.ts';

function send(message: FromWorker, onSent?: () => void): void {
  if (process.send === undefined || !process.connected) {
    onSent?.();
    return;
  }
  process.send(message, undefined, {}, () => {
    onSent?.();
  });
}

function pick<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T): T {
  return allowed.find((a) => a === value) ?? fallback;
}

/** Forwards notify batches to the primary; stores nothing here. */
class PrimaryNotifySink implements NotifySink {
  record(events: readonly NotifyEvent[], nowMs: number): void {
    send({ type: 'notify', events: [...events], nowMs });
  }

  size(): undefined {
    return undefined;
  }

  close(): void {
    // the primary owns the store
  }
}

async function main(): Promise<void> {
  const id = cluster.worker?.id ?? 0;
  const format: LogFormat = pick(process.env[WORKER_ENV.logFormat], LOG_FORMATS, 'json');
  const level: LogLevel = pick(process.env[WORKER_ENV.logLevel], LOG_LEVELS, 'info');
  const log = createLogSink({ format, level, name: 'tattler-collector', base: { worker: id } });
  // The primary orchestrates: a terminal's Ctrl-C or a SIGHUP reaches the whole process group,
  // but only the primary acts on it (stop, or reload forwarded to each worker).
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  let collector: RunningCollector;
  try {
    const config = await loadCollectorConfig(process.env[WORKER_ENV.config] ?? '');
    collector = await startCollector(config, { log, worker: { id, notifySink: new PrimaryNotifySink() } });
  } catch (err) {
    send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
    process.disconnect();
    return;
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Sockets first, so nothing is counted after the final counters leave for the stats store.
    void collector
      .close()
      .then(() => collector.registry.getMetricsAsJSON())
      .then(
        (metrics) => {
          send({ type: 'stopped', metrics }, () => {
            if (process.connected) process.disconnect();
          });
        },
        () => {
          if (process.connected) process.disconnect();
        },
      );
  };
  // systemd's KillMode=control-group sends SIGTERM to every process: stop cleanly here too.
  process.on('SIGTERM', stop);
  process.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'reload':
        void collector.reload().then(() => {
          send({ type: 'reloaded' });
        });
        break;
      case 'stop':
        stop();
        break;
      case 'vendor-report':
        // A throw here would escape the IPC listener and end the worker: answer with a failure.
        try {
          send({ type: 'vendor-reported', id: message.id, report: collector.vendorReport(message.request) });
        } catch (err) {
          log('error', 'vendor_report_failed', `vendor report: ${err instanceof Error ? err.message : String(err)}`);
          send({ type: 'vendor-report-failed', id: message.id });
        }
        break;
      case 'scrape':
        void collector.registry.getMetricsAsJSON().then((metrics) => {
          send({ type: 'scraped', id: message.id, metrics: metrics, status: collector.status() });
        });
        break;
    }
  });
  send({ type: 'ready', addresses: collector.addresses() });
}

await main();
