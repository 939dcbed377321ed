#!/usr/bin/env bash
# The README's first command as a user runs it: `npm run dev` until /readyz answers and the
# Temporal UI serves, then SIGTERM to npm, and nothing of it may be left running. Twice: the
# second run reuses the database of the first.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

leftovers() {
  # Every process the stack started names this checkout or the PostgreSQL cluster it links to.
  local cluster
  cluster=$(readlink .data/postgres 2>/dev/null || echo "$here/.data/postgres")
  ps -eo pid=,args= | grep -F -e "$here" -e "$cluster" | grep -v -e grep -e dev-smoke || true
}

for round in 1 2; do
  setsid npm run dev >"$log" 2>&1 &
  npm_pid=$!
  ready=""
  for _ in $(seq 1 300); do
    # The stack polls /readyz itself and prints its banner after; the smoke waits for that line
    # too, as a user does, or it can read the log before the banner is written.
    if curl -fsS -o /dev/null http://127.0.0.1:3000/readyz 2>/dev/null && grep -q 'ready — press Ctrl-C' "$log"; then
      ready=yes; break
    fi
    if ! kill -0 "$npm_pid" 2>/dev/null; then break; fi
    sleep 1
  done
  if [ -z "$ready" ]; then
    echo "[dev-smoke] round $round: /readyz never answered 200 with the banner printed; npm run dev printed:"; tail -40 "$log"
    kill -TERM "$npm_pid" 2>/dev/null || true
    exit 1
  fi
  curl -fsS -o /dev/null http://127.0.0.1:8233/ || { echo "[dev-smoke] the Temporal UI does not answer"; exit 1; }
  grep -q 'mode dry-run' "$log" || { echo "[dev-smoke] the banner does not print the policy and mode"; exit 1; }
  token=$(node -p "require('./.data/dev-secrets.json').INTERNAL_API_TOKEN")
  account=http://127.0.0.1:3000/v1/accounts/ci-smoke
  if [ "$round" = 1 ]; then
    curl -fsS -o /dev/null -X PUT -H "authorization: Bearer $token" -H 'content-type: application/json' \
      -d '{"stripeCustomerId":"cus_cismoke","servers":[]}' "$account"
  else
    # The account written in round 1 is still there: the same database was reused.
    curl -fsS -o /dev/null -H "authorization: Bearer $token" "$account/billing" ||
      { echo "[dev-smoke] round 2 does not find the account of round 1: the database was not reused"; exit 1; }
  fi
  echo "[dev-smoke] round $round: /readyz 200 and the Temporal UI answer; sending SIGTERM to npm"
  kill -TERM "$npm_pid"
  for _ in $(seq 1 60); do kill -0 "$npm_pid" 2>/dev/null || break; sleep 1; done
  sleep 2
  left=$(leftovers)
  if [ -n "$left" ]; then
    echo "[dev-smoke] round $round: processes left after SIGTERM:"; echo "$left"; exit 1
  fi
  echo "[dev-smoke] round $round: stopped, nothing left running"
done
echo "[dev-smoke] passed: npm run dev came up twice on the same .data and stopped cleanly"
