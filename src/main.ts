/**
 * `npm start`: read the config, start Pollster — or, with WEB_CONCURRENCY > 1,
 * a cluster primary that starts that many Pollster processes — and shut down
 * cleanly on SIGTERM or SIGINT. `--help` lists the variables, `--check-config`
 * prints the effective configuration. The only place that calls `process.exit`.
 */
import cluster from 'node:cluster';
import { startPollster, type Pollster } from './app.js';
import { runPrimary } from './cluster/primary.js';
import { workerRelay } from './cluster/relay.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { helpText, maskedConfig } from './config-help.js';
import { createLogger } from './observability/logger.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`pollster: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function start(config: Config): Promise<Pollster> {
  try {
    return await startPollster(config, createLogger(config.logLevel), workerRelay());
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const where = config.socket ?? `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') process.stderr.write(`pollster: ${where} is already in use (set PORT or SOCKET)\n`);
    else if (code === 'EACCES') process.stderr.write(`pollster: no permission to listen on ${where}\n`);
    else process.stderr.write(`pollster: could not start: ${message}\n`);
    process.exit(1);
  }
}

const flag = process.argv[2];
if (flag === '--help' || flag === '-h') {
  process.stdout.write(helpText());
  process.exit(0);
}
if (flag !== undefined && flag !== '--check-config') {
  process.stderr.write(`pollster: unknown option ${flag} (try --help)\n`);
  process.exit(2);
}
const config = readConfig();
if (flag === '--check-config') {
  process.stdout.write(`${JSON.stringify(maskedConfig(config), null, 2)}\n`);
  process.exit(0);
}
if (config.webConcurrency > 1 && cluster.isPrimary) {
  runPrimary(config, createLogger(config.logLevel), (code) => process.exit(code));
} else {
  await serve(config);
}

async function serve(config: Config): Promise<void> {
  const pollster = await start(config);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // `on`, not `once`: under cluster a Ctrl-C reaches this process both from
    // the terminal and from the primary; close() is idempotent.
    process.on(signal, () => {
      pollster.logger.info({ signal }, 'shutting down');
      pollster.close().then(
        () => process.exit(0),
        (error: unknown) => {
          pollster.logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
