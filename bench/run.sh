#!/usr/bin/env bash
# usergraph's benchmark, one command from a fresh checkout:
#   bench/run.sh            full run (release build, ~6 minutes of load)
#   bench/run.sh --quick    smoke mode (debug build, tiny data, seconds)
# Extra arguments go to `usergraph-bench run` (see --help). PostgreSQL is
# taken from BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

if [[ " $* " == *" --quick "* ]]; then
  # Smoke mode: debug builds (CI has them from the test run already).
  cargo build --quiet -p usergraph --bin usergraph
  cargo build --quiet -p usergraph-bench
  profile=debug
else
  cargo build --quiet --release -p usergraph --bin usergraph
  cargo build --quiet --release -p usergraph-bench
  profile=release
fi
exec "target/$profile/usergraph-bench" run --binary "target/$profile/usergraph" "$@"
