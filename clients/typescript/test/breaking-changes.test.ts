// The schema check CI runs: breaking changes are named, and fail only
// under --strict.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { REPO_ROOT } from './support/server.js';

const SCRIPT = join(REPO_ROOT, 'clients/typescript/scripts/breaking-changes.mjs');

function check(before: string, after: string, strict: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'schema-check-'));
  try {
    writeFileSync(join(dir, 'old.graphql'), before);
    writeFileSync(join(dir, 'new.graphql'), after);
    const args = [SCRIPT, '--old', join(dir, 'old.graphql'), '--new', join(dir, 'new.graphql')];
    return spawnSync(process.execPath, strict ? [...args, '--strict'] : args, { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BEFORE = 'type Query { me: User! }\ntype User { id: Int! name: String! email: String }';

test('a removed field is reported as breaking and fails only under --strict', () => {
  const after = 'type Query { me: User! }\ntype User { id: Int! email: String }';
  const report = check(BEFORE, after, false);
  assert.equal(report.status, 0, report.stderr);
  assert.match(report.stdout, /1 breaking/);
  assert.match(report.stdout, /BREAKING FIELD_REMOVED: User\.name was removed/);
  assert.equal(check(BEFORE, after, true).status, 1);
});

test('an added field is not breaking', () => {
  const after = `${BEFORE}\nextend type User { bio: String }`;
  const report = check(BEFORE, after, true);
  assert.equal(report.status, 0, report.stdout);
  assert.match(report.stdout, /0 breaking/);
});

test('the committed schema compares with its previous commit', () => {
  const report = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
  assert.equal(report.status, 0, report.stderr);
  assert.match(report.stdout, /^schema check/);
});
