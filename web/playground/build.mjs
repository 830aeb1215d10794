// Bundles GraphiQL and its styles into dist/ (graphiql.js, graphiql.css),
// which usergraph serves at /playground/. Versions are pinned in
// package.json and package-lock.json; nothing is fetched at run time.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: { graphiql: 'src/main.js' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  outdir: 'dist',
  // Fonts and images the styles name are inlined, so the CSS needs no
  // other origin either.
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'linked',
  logLevel: 'warning',
});
console.log('built web/playground/dist (graphiql.js, graphiql.css)');
