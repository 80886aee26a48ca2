#!/usr/bin/env node
// `npm run demo`: the one-command demo. The example app (examples/gmail-sync-app) is not built yet,
// so this says what the demo will do instead of pretending to sync anything.
const lines = [
  'syncjob demo — not available yet.',
  '',
  'When the example app lands, `npm run demo` will:',
  '  1. build the packages it needs;',
  '  2. start the local Gmail API emulator with a synthetic mailbox (about 20,000 messages, legacy quota, sped up);',
  "  3. start examples/gmail-sync-app on SQLite (a file under the example's data folder);",
  '  4. print the URL to open (http://localhost:3000 by default), where the Sync button runs a real sync.',
  '',
  'Nothing was started and nothing was synced.',
];
console.log(lines.join('\n'));
