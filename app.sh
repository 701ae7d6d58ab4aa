#!/usr/bin/env bash
# Start HelpBot, Charter's governed reference chatbot:
#
#   PORT=8501 bash app.sh
#
# Builds the release binary when it is missing or out of date, loads `.env` when
# present (variables already set in the environment win), and serves HelpBot on
# 0.0.0.0:$PORT (default 8501). `.env.example` documents every variable.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ -f .env ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line#"${line%%[![:space:]]*}"}"            # trim leading space
    case "$line" in ''|'#'*) continue ;; esac
    line="${line#export }"
    key="${line%%=*}"
    value="${line#*=}"
    [[ "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "app.sh: .env: cannot read \`$line\`" >&2; exit 1; }
    # Strip one pair of surrounding quotes.
    if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then value="${BASH_REMATCH[1]}"; fi
    if [ -z "${!key+x}" ]; then export "$key=$value"; fi
  done < .env
fi

PORT="${PORT:-8501}"
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$(pwd)/$target_dir" ;; esac
bin="$target_dir/release/helpbot"

if command -v cargo >/dev/null; then
  # A no-op when the binary is up to date.
  cargo build --release --locked -p helpbot >&2
elif [ ! -x "$bin" ]; then
  echo "app.sh: cargo is not installed and $bin does not exist: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

echo "app.sh: starting HelpBot on http://0.0.0.0:$PORT" >&2
exec "$bin" serve --bind "0.0.0.0:$PORT"
