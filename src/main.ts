/**
 * `npm start`: read the config, start Pollster, shut down cleanly on SIGTERM
 * or SIGINT. The only place that calls `process.exit`.
 */
import { startPollster, type Pollster } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';

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
    return await startPollster(config);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const where = config.socket ?? `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') process.stderr.write(`pollster: ${where} is already in use (set PORT or SOCKET)\n`);
    else if (code === 'EACCES') process.stderr.write(`pollster: no permission to listen on ${where}\n`);
    else process.stderr.write(`pollster: could not start: ${message}\n`);
    process.exit(1);
  }
}

const pollster = await start(readConfig());

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
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
