// Builds the demo page (web/demo) with the typed client into web/demo/dist,
// which usergraph serves at /demo. Run after `npm run codegen`.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const demo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../web/demo');
const dist = join(demo, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: { demo: join(demo, 'main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  outdir: dist,
  // Resolve the client's packages from this package's node_modules.
  nodePaths: [resolve(dirname(fileURLToPath(import.meta.url)), '../node_modules')],
  define: { 'process.env.NODE_ENV': '"production"', 'globalThis.__DEV__': 'false' },
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const file of ['index.html', 'demo.css']) {
  copyFileSync(join(demo, file), join(dist, file));
}
console.log(`built ${dist}`);
