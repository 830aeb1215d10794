#!/usr/bin/env bash
# Time `usergraph import-users` on 100,000 JSON Lines rows (issue 15), into
# a fresh SQLite database and, when BENCH_DATABASE_URL is set, a fresh
# PostgreSQL database on that server.
#   bench/import.sh            release build
#   bench/import.sh --debug    debug build (what the tests use)
#   ROWS=10000 bench/import.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${ROWS:-100000}
if [[ "${1:-}" == "--debug" ]]; then
  cargo build --quiet -p usergraph --bin usergraph
  cargo build --quiet -p usergraph-bench
  profile=debug
else
  cargo build --quiet --release -p usergraph --bin usergraph
  cargo build --quiet --release -p usergraph-bench
  profile=release
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"target/$profile/usergraph-bench" import-rows --count "$rows" --out "$work/users.jsonl"

echo "== SQLite"
DATABASE_URL="sqlite://$work/import.db?mode=rwc" /usr/bin/time -f "%e s, %M KB peak" \
  "target/$profile/usergraph" import-users "$work/users.jsonl"

if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
  name="usergraph_import_bench_$$"
  admin="${BENCH_DATABASE_URL}"
  psql "$admin" -qc "CREATE DATABASE $name" >/dev/null
  echo "== PostgreSQL"
  DATABASE_URL="${admin%/*}/$name" /usr/bin/time -f "%e s, %M KB peak" \
    "target/$profile/usergraph" import-users "$work/users.jsonl" || true
  psql "$admin" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
fi
