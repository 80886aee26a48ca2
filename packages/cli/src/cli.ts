import { runCli } from './runCli';

const controller = new AbortController();
let signals = 0;
for (const name of ['SIGINT', 'SIGTERM'] as const) {
  process.on(name, () => {
    signals += 1;
    // A second signal means "now": the graceful stop is abandoned.
    if (signals > 1) process.exit(130);
    controller.abort();
  });
}

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
process.exitCode = code;
// Connection pools or keep-alive sockets must not keep a finished command alive.
setTimeout(() => process.exit(code), 1_000).unref();
