// Bundles GraphiQL and its styles into dist/ (graphiql.js, graphiql.css)
// beside the page that loads them (index.html), which usergraph embeds in
// its executable and serves at /graphql and /playground/. Versions are
// pinned in package.json and package-lock.json; nothing is fetched at run
// time. dist/ is committed; CI rebuilds it and fails when it differs.
import { build } from 'esbuild';
import { copyFileSync, rmSync } from 'node:fs';

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
copyFileSync('index.html', 'dist/index.html');
console.log('built web/playground/dist (index.html, graphiql.js, graphiql.css)');
