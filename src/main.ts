import { ConfigError, loadConfig } from './config.js';
import { StartupError } from './lib/startup-error.js';
import { startServer } from './server.js';

try {
  const config = loadConfig();
  const server = await startServer(config);
  server.container.logger.info({ url: server.url, issuer: server.container.config.issuer, metrics: server.metricsUrl }, 'identity provider listening');
  const stop = async () => {
    server.container.logger.info('shutting down');
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
} catch (err) {
  if (err instanceof StartupError) {
    console.error(err.message);
    // EX_CONFIG (sysexits.h) for a setting to fix; 1 for anything else in the operator's hands.
    process.exit(err instanceof ConfigError ? 78 : 1);
  }
  console.error(err);
  process.exit(1);
}
