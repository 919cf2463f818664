#!/usr/bin/env bash
# Benchmarks in tests/benchmarks/ against a throwaway PostgreSQL and Redis.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export PATH="$VENV/bin:$PATH"
TMP="$(mktemp -d /tmp/seedbed-bench.XXXXXX)"
chmod 755 "$TMP"
PG_PORT="$(free_port)"
REDIS_PORT="$(free_port)"
cleanup() { pg_stop "$TMP/pg"; redis_stop "$REDIS_PORT"; rm -rf "$TMP"; }
trap cleanup EXIT
PG_FSYNC=off pg_start "$TMP/pg" "$PG_PORT"
redis_start "$TMP/redis" "$REDIS_PORT"
export DATABASE_URL="postgres://seedbed@127.0.0.1:$PG_PORT/seedbed"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
python -m pytest tests/benchmarks -p no:cacheprovider -o addopts="" -s "$@"
