// Prints the min+gzip size of @syncjob/react plus @syncjob/core/client as an app bundles them:
// every export, minified by esbuild, React excluded (the app has it anyway). Budget: 12 kB.
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const from = (path) => fileURLToPath(new URL(path, import.meta.url));
const BUDGET = 12 * 1024;

const result = await build({
  stdin: {
    contents: "export * from '@syncjob/react';\nexport * from '@syncjob/core/client';\n",
    resolveDir: from('.'),
    loader: 'ts',
  },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  external: ['react', 'react-dom', 'react/jsx-runtime'],
  // From source, so the figure never depends on a stale build.
  alias: {
    '@syncjob/react': from('../src/index.ts'),
    '@syncjob/core/client': from('../../core/src/client/index.ts'),
  },
  jsx: 'automatic',
  logLevel: 'error',
});

const code = result.outputFiles[0].contents;
const gzip = gzipSync(code, { level: 9 }).length;
const kB = (bytes) => `${(bytes / 1024).toFixed(2)} kB`;
console.log('@syncjob/react + @syncjob/core/client (React excluded)');
console.log(`  minified:        ${kB(code.length)}`);
console.log(`  minified + gzip: ${kB(gzip)}  (budget ${kB(BUDGET)}${gzip > BUDGET ? ', OVER' : ''})`);
if (gzip > BUDGET) process.exitCode = 1;
