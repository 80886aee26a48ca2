import { ConfigError, loadAppConfig } from './appConfig.ts';
import { startApp } from './startApp.ts';

/**
 * `node server/main.ts`: the example app from environment variables (see the README). SIGTERM and
 * SIGINT stop it gracefully: running syncs save their checkpoint and continue on the next start.
 */
async function main(): Promise<void> {
  const config = loadAppConfig();
  if (config.sessionSecretGenerated) {
    console.log('session: SESSION_SECRET is not set, using a generated one (sessions end with the process)');
  }
  const app = await startApp(config, { log: (line) => console.log(line) });
  const shown = config.host === '0.0.0.0' || config.host === '::' ? config.publicUrl : app.url;
  console.log(`\nsyncjob example app ready: ${shown}\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping (running syncs save their checkpoint)…`);
    app.close().then(
      () => {
        console.log('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        console.error('stop failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `configuration: ${error.message}` : error);
  process.exit(1);
});
