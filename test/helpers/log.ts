/**
 * A Pollster logger whose lines a test can read: the text as written, and
 * each line parsed.
 */
import { Writable } from 'node:stream';
import type { Level } from 'pino';
import { createLogger } from '../../src/observability/logger.js';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface CapturedLog {
  logger: ReturnType<typeof createLogger>;
  text: () => string;
  lines: () => LogLine[];
}

export function captureLog(level: Level = 'trace'): CapturedLog {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk;
      done();
    },
  });
  return {
    logger: createLogger(level, stream),
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LogLine),
  };
}
