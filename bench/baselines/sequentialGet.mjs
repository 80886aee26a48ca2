// Baseline "one at a time": list every id, then messages.get each in sequence. The most common
// shape of a hand-written Gmail sync; never trips the quota, never reaches it either.
import { getMessage, runBaseline } from './fieldClient.mjs';

await runBaseline(async (gmail, ids, counts) => {
  const messages = [];
  for (const id of ids) messages.push(await getMessage(gmail, id, counts));
  return messages;
});
