/**
 * The pino logger every Pollster process uses. Log lines are built from
 * route patterns and chosen fields, never from raw URLs, headers or bodies,
 * so session ids and bearer tokens have no way in; `redact` is the second
 * line of defence should a future line pass a whole object.
 */
import pino, { type DestinationStream, type Level, type Logger } from 'pino';

/**
 * Field paths censored at the top level and one level down. (`url` is not
 * among them: the listening line's `url` is the server's own address.)
 */
export const REDACTED_PATHS = [
  'session_id',
  'sessionId',
  'token',
  'authorization',
  'headers',
  '*.session_id',
  '*.sessionId',
  '*.token',
  '*.authorization',
  '*.headers',
];

export function createLogger(level: Level | 'silent', destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
