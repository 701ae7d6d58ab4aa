#!/usr/bin/env bash
# Charter's browser tests: build `charter` (or use $CHARTER_BIN), start it on a free
# port with a throwaway data directory, drive its pages in Debian's headless Chromium
# with `node --test`, and always stop the server.
#
#   bash tests/browser/run.sh                 # debug build
#   CHARTER_BIN=target/release/charter bash tests/browser/run.sh
#
# Screenshots land in target/screenshots/. No browser is downloaded: playwright-core
# drives /usr/bin/chromium (or $CHROMIUM), installed with apt-get when missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run.sh: installing Chromium from Debian's packages" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "run.sh: $CHROMIUM is missing; install Debian's chromium package (apt-get install chromium)" >&2
    exit 1
  fi
fi

if [ -z "${CHARTER_BIN:-}" ]; then
  (cd "$root" && cargo build -p charter-cli)
  # Cargo puts the binary under CARGO_TARGET_DIR when that is set (.ci/run sets it).
  target_dir="${CARGO_TARGET_DIR:-target}"
  case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
  CHARTER_BIN="$target_dir/debug/charter"
fi
CHARTER_BIN="$(cd "$(dirname "$CHARTER_BIN")" && pwd)/$(basename "$CHARTER_BIN")"

# HelpBot (crates/helpbot) is served beside Charter for specs/helpbot.test.js.
if [ -z "${HELPBOT_BIN:-}" ]; then
  (cd "$root" && cargo build -p helpbot)
  target_dir="${CARGO_TARGET_DIR:-target}"
  case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
  HELPBOT_BIN="$target_dir/debug/helpbot"
fi
HELPBOT_BIN="$(cd "$(dirname "$HELPBOT_BIN")" && pwd)/$(basename "$HELPBOT_BIN")"

if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

port="$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
work="$(mktemp -d "${TMPDIR:-/tmp}/charter-browser.XXXXXX")"
admin_password="browser-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
server_pid=""
helpbot_pid=""

stop() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$helpbot_pid" ] && kill -0 "$helpbot_pid" 2>/dev/null; then
    kill "$helpbot_pid" 2>/dev/null || true
    wait "$helpbot_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

# Only the server sees its settings: every CHARTER_* variable is a setting to it.
env CHARTER_DATA_DIR="$work/data" \
  CHARTER_BIND="127.0.0.1:$port" \
  CHARTER_BOOTSTRAP_ADMIN_PASSWORD="$admin_password" \
  CHARTER_AUTH__COOKIE_SECURE=true \
  CHARTER_LOG_LEVEL="${CHARTER_LOG_LEVEL:-warn}" \
  "$CHARTER_BIN" serve >"$work/server.log" 2>&1 &
server_pid=$!

url="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
  if curl -fsS "$url/ready" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: charter exited before it was ready:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "$url/ready" >/dev/null || { echo "run.sh: charter did not become ready" >&2; cat "$work/server.log" >&2; exit 1; }

# HelpBot: the shipped KB, its local configuration, no telemetry, feedback journalled
# locally (Charter's annotation API is not asked).
helpbot_port="$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
(cd "$root" && exec env -u CHARTER_URL -u CHARTER_TOKEN \
  HELPBOT_KB_DIR="$root/crates/helpbot/kb" HELPBOT_DATA_DIR="$work/helpbot" \
  HELPBOT_MODEL_ALIAS= HELPBOT_TELEMETRY=off HELPBOT_LOG_LEVEL=warn \
  "$HELPBOT_BIN" serve --bind "127.0.0.1:$helpbot_port" >"$work/helpbot.log" 2>&1) &
helpbot_pid=$!
helpbot_url="http://127.0.0.1:$helpbot_port"
for _ in $(seq 1 150); do
  if curl -fsS "$helpbot_url/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$helpbot_pid" 2>/dev/null; then
    echo "run.sh: helpbot exited before it was ready:" >&2
    cat "$work/helpbot.log" >&2
    exit 1
  fi
  sleep 0.2
done
curl -fsS "$helpbot_url/health" >/dev/null || { echo "run.sh: helpbot did not become ready" >&2; cat "$work/helpbot.log" >&2; exit 1; }

mkdir -p "$root/target/screenshots"
status=0
(
  cd "$here"
  CHARTER_URL="$url" \
    HELPBOT_URL="$helpbot_url" \
    ADMIN_PASSWORD="$admin_password" \
    SCREENSHOT_DIR="$root/target/screenshots" \
    node --test --test-concurrency=1 "$@" specs/*.test.js
) || status=$?

if [ "$status" -ne 0 ]; then
  echo "run.sh: browser tests failed; the server's log:" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
