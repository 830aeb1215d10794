#!/usr/bin/env bash
# A CPU profile of one scenario under load, for docs/performance.md:
#   bench/profile.sh [--binary PATH] [--users N] [--seconds S] [--scenario users|users10|users100|user|me|health]
#   bench/profile.sh --callgrind N ...   instructions instead of samples (see below)
#   bench/profile.sh --stat ...          the server's CPU time, context switches
#                                        and wake-ups per request instead of samples
# Starts the server on a fresh SQLite file, registers the template user and
# seeds N users (as bench/run.sh does), drives the scenario with wrk at 64
# connections and samples the server with `perf record` meanwhile. Prints the
# top entries by own time and wrk's summary. Needs perf (Debian: linux-perf)
# and wrk; the binary is best built with line tables for symbols:
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release
#
# With --callgrind N the server runs under valgrind's callgrind, the
# scenario's request is sent N times one after another after a warm-up, and
# the instructions per request and the functions that cost most (with what
# they call) are printed. Instruction counts do not depend on what else the
# machine is doing, so two builds can be compared on a busy machine.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=target/release/usergraph
users=1000
seconds=10
scenario=users
callgrind=0
stat=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --scenario) scenario=$2; shift 2 ;;
    --callgrind) callgrind=$2; shift 2 ;;
    --stat) stat=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
unlimited=1000000000
launcher=()
if [[ $callgrind -gt 0 ]]; then
  launcher=(valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" --dump-instr=no)
fi
DATABASE_URL="sqlite://$work/bench.db?mode=rwc" BIND_ADDR="127.0.0.1:$port" \
  JWT_SECRET=profile-secret-profile-secret-profile BCRYPT_COST=4 METRICS_ENABLED=true \
  DEFAULT_RATE_LIMIT=$unlimited IP_RATE_LIMIT=$unlimited DEFAULT_RATE_PERIOD=1s \
  RUST_LOG=warn "${launcher[@]}" "$binary" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done

gql() { curl -sf -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$port/graphql"; }
gql '{"query":"mutation { register(input: { name: \"User 0\", username: \"u0\", email: \"u0@example.com\", password: \"Bench!pass1\" }) { id } }"}' >/dev/null
sqlite3 -cmd ".timeout 20000" "$work/bench.db" <<SQL
INSERT INTO tier (name, created_at) SELECT 'free', created_at FROM "user" WHERE username = 'u0'
  UNION ALL SELECT 'pro', created_at FROM "user" WHERE username = 'u0';
WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < $users)
INSERT INTO "user" (uuid, name, username, email, hashed_password, profile_image_url,
    is_superuser, tier_id, token_version, created_at, updated_at, is_deleted)
  SELECT randomblob(16), 'User ' || i, 'u' || i, 'u' || i || '@example.com', t.hashed_password,
    t.profile_image_url, false, CASE WHEN i % 3 = 0 THEN NULL ELSE 1 + i % 2 END, 0,
    t.created_at, t.updated_at, false
  FROM numbers, (SELECT * FROM "user" WHERE username = 'u0') AS t;
INSERT INTO post (created_by_user_id, title, text, created_at, updated_at, is_deleted)
  SELECT id, 'Hello', 'A seeded post', created_at, updated_at, false FROM "user" WHERE id % 3 = 0;
SQL

[[ -n "$(sqlite3 "$work/bench.db" "SELECT id FROM \"user\" WHERE username = 'u0'")" ]] || { echo "registering u0 failed" >&2; exit 1; }
echo "seeded: $(sqlite3 "$work/bench.db" 'SELECT COUNT(*) FROM "user"') users"

case "$scenario" in
  users|users100) env_args=(PAGE_MIN=1 PAGE_MAX=$(( users / 100 > 0 ? users / 100 : 1 ))) ;;
  users10) env_args=(PAGE_MIN=1 PAGE_MAX=$(( users / 10 > 0 ? users / 10 : 1 ))) ;;
  *) env_args=() ;;
esac
if [[ $callgrind -gt 0 ]]; then
  # The scenario's request as wrk sends it (bench/wrk/graphql.lua), with a
  # fixed page or user.
  case "$scenario" in
    users) query='query($p: Int) { users(page: $p, itemsPerPage: 100) { items { username tier { name } postCount } } }' variables='{"p":3}' ;;
    users10) query='query($p: Int) { users(page: $p, itemsPerPage: 10) { items { id name username email profileImageUrl tierId } } }' variables='{"p":3}' ;;
    users100) query='query($p: Int) { users(page: $p, itemsPerPage: 100) { items { id username name tier { name } postCount } } }' variables='{"p":3}' ;;
    user) query='query($u: String!) { user(username: $u) { id username name } }' variables='{"u":"u7"}' ;;
    *) query='{ __typename }' variables='{}' ;;
  esac
  body="{\"query\":\"$query\",\"variables\":$variables}"
  send() {
    if [[ $scenario == health ]]; then
      curl -sf -o /dev/null "http://127.0.0.1:$port/health"
    else
      curl -sf -o /dev/null -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/graphql"
    fi
  }
  for _ in $(seq 20); do send; done
  callgrind_control -z "$server" >/dev/null 2>&1
  for _ in $(seq "$callgrind"); do send; done
  callgrind_control -d "$server" >/dev/null 2>&1
  sleep 1
  dump=$(ls -t "$work"/callgrind.out.* | head -1)
  total=$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
  echo "request: $body"
  echo "instructions per request: $(( total / callgrind ))"
  echo "== own instructions (top 45)"
  cp "$dump" "${CALLGRIND_KEEP:-/tmp/usergraph-callgrind.out}"
  callgrind_annotate --inclusive=no --threshold=100 --auto=no "$dump" | sed -n '/file:function/,$p' | sed -n 3,80p | grep -v "thread_start\|call_once{{vtable\|clone.S\|start_thread\|tokio::runtime" | head -40 | sed -E 's#/root/.cargo/registry/src/[^/]+/##; s#/rustc/[0-9a-f]+/##' | cut -c1-190
  exit 0
fi
if [[ $stat -eq 1 ]]; then
  # Counted over the whole run, then divided by the requests wrk completed.
  perf stat -x, -e task-clock,context-switches,cpu-migrations,user_time,system_time -p "$server" -o "$work/stat.csv" &
  stat_pid=$!
  summary=$(env SCENARIO="$scenario" USERS="$users" PASSWORD=Bench!pass1 "${env_args[@]}" \
    wrk -t2 -c64 -d"${seconds}s" -s bench/wrk/graphql.lua "http://127.0.0.1:$port" | grep -v '^{')
  kill -INT $stat_pid; wait $stat_pid 2>/dev/null || true
  echo "$summary"
  requests=$(echo "$summary" | awk '/requests in/ {print $1; exit}')
  awk -F, -v n="$requests" '$1 ~ /^[0-9.]+$/ {
      per = $1 / n
      if ($3 == "task-clock") printf "%-18s %10.1f us of CPU per request\n", $3, per * 1000
      else if ($3 ~ /_time/) printf "%-18s %10.1f us per request\n", $3, per / 1000
      else printf "%-18s %10.2f per request\n", $3, per }' "$work/stat.csv"
  exit 0
fi
perf record -q -F 1999 -p "$server" -o "$work/perf.data" 2>/dev/null &
perf_pid=$!
env SCENARIO="$scenario" USERS="$users" PASSWORD=Bench!pass1 "${env_args[@]}" \
  wrk -t2 -c64 -d"${seconds}s" -s bench/wrk/graphql.lua "http://127.0.0.1:$port" | grep -v '^{'
kill -INT $perf_pid; wait $perf_pid 2>/dev/null || true
report() {
  perf report -i "$work/perf.data" --no-children --stdio "$@" 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | sed -E 's/ +- +- *$//; s/ +$//'
}
echo "== by binary"
report --sort dso | head -8
echo "== top symbols in user space"
report --sort symbol --percent-limit 0.5 | grep -v '\[k\]' | head -40
if [[ -n "${PROFILE_KERNEL:-}" ]]; then echo "== top symbols in the kernel"; report --sort symbol --percent-limit 0.7 | grep "\[k\]" | head -30; fi
