// Reports how schema.graphql changed against an earlier version, with
// graphql-js's findBreakingChanges / findDangerousChanges.
//
//   node scripts/breaking-changes.mjs                 # against HEAD~1 (main's previous commit)
//   node scripts/breaking-changes.mjs --base <ref>    # against another git ref
//   node scripts/breaking-changes.mjs --old a.graphql --new b.graphql
//   add --strict to exit 1 when a change is breaking
//
// CI runs it without --strict: a breaking change can be deliberate, so it is
// reported for the people merging; what must never break silently, the
// client's own operations, fails `npm run codegen` instead.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, findBreakingChanges, findDangerousChanges } from 'graphql';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const args = process.argv.slice(2);
const option = (name) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};
const strict = args.includes('--strict');

function previousSchema() {
  const file = option('--old');
  if (file) return { text: readFileSync(file, 'utf8'), label: file };
  const base = option('--base') ?? 'HEAD~1';
  try {
    const text = execFileSync('git', ['show', `${base}:schema.graphql`], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return { text, label: `${base}:schema.graphql` };
  } catch {
    return null;
  }
}

const current = readFileSync(option('--new') ?? resolve(repoRoot, 'schema.graphql'), 'utf8');
const previous = previousSchema();
if (previous === null) {
  console.log('schema check: no previous schema.graphql to compare with (first commit or shallow clone)');
  process.exit(0);
}
const before = buildSchema(previous.text);
const after = buildSchema(current);
const breaking = findBreakingChanges(before, after);
const dangerous = findDangerousChanges(before, after);
console.log(
  `schema check against ${previous.label}: ${breaking.length} breaking, ${dangerous.length} dangerous`,
);
for (const change of breaking) console.log(`  BREAKING ${change.type}: ${change.description}`);
for (const change of dangerous) console.log(`  dangerous ${change.type}: ${change.description}`);
if (strict && breaking.length > 0) process.exit(1);
