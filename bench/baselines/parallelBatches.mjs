// Baseline "10 in parallel, then a pause": list every id, then messages.get in groups of 10 run
// together, sleeping a fixed 100 ms between groups (scaled to the emulator's speed) to "stay under
// the quota" — a fixed guess that is too fast or too slow depending on the cost profile.
import { config, getMessage, runBaseline, sleep } from './fieldClient.mjs';

await runBaseline(async (gmail, ids, counts) => {
  const messages = [];
  for (let i = 0; i < ids.length; i += 10) {
    messages.push(...(await Promise.all(ids.slice(i, i + 10).map((id) => getMessage(gmail, id, counts)))));
    await sleep(100 / config.speed);
  }
  return messages;
});
