/**
 * `npm start`: read the config, start Pollster, shut down cleanly on SIGTERM
 * or SIGINT. The only place that calls `process.exit`.
 */
import { startPollster } from './app.js';
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

const config = readConfig();
const pollster = await startPollster(config);

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
