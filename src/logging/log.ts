/**
 * Operator-facing logs: one event per line, structured. JSON lines through pino (the default,
 * for journald, Loki or any collector of logs) or plain text for a person at a terminal. Events
 * and errors only, never a line per datagram at `info`; no addresses or device identities
 * (docs/privacy.md), no secrets.
 * @module
 */
import pino from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Extra fields of an event: plain values only. */
export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

/**
 * Where code sends an event: its level, a stable event name (`feed_kept`, `reloaded`…) that
 * alerting can match, and a sentence for people.
 */
export type LogSink = (level: LogLevel, event: string, message: string, fields?: LogFields) => void;

export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** How to build a sink. */
export interface LogOptions {
  readonly format: LogFormat;
  /** Events below this level are dropped; default `info`. */
  readonly level?: LogLevel;
  /** The program name in every event (`name` in JSON, a prefix in text). */
  readonly name: string;
  /** Written one line at a time; default standard error. */
  readonly write?: (line: string) => void;
  /** Fixed fields of every event (e.g. `worker`). */
  readonly base?: LogFields;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

function textValue(value: string | number | boolean | null): string {
  return typeof value === 'string' && /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * A sink writing `options.format` lines.
 * @example const log = createLogSink({ format: 'json', name: 'tattler-collector' }); log('info', 'started', 'listening on 127.0.0.1:5683');
 */
export function createLogSink(options: LogOptions): LogSink {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string): void => void process.stderr.write(line));
  if (options.format === 'text') {
    const base = options.base ?? {};
    // The event name is for machines; a person reads the sentence.
    return (level, _event, message, fields = {}) => {
      if (RANK[level] < min) return;
      const extra = Object.entries({ ...base, ...fields }).map(([k, v]) => ` ${k}=${textValue(v)}`);
      const tag = level === 'info' ? '' : `${level}: `;
      write(`${options.name}: ${tag}${message}${extra.join('')}\n`);
    };
  }
  const logger = pino(
    { name: options.name, level: options.level ?? 'info', base: { ...options.base }, timestamp: pino.stdTimeFunctions.isoTime },
    { write },
  );
  return (level, event, message, fields = {}) => {
    if (RANK[level] < min) return;
    logger[level]({ event, ...fields }, message);
  };
}

/** The format for a stream: text on a terminal, JSON otherwise. */
export function defaultLogFormat(stream: { isTTY?: boolean }): LogFormat {
  return stream.isTTY === true ? 'text' : 'json';
}
