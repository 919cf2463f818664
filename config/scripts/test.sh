#!/usr/bin/env bash
# Every check, against a throwaway PostgreSQL and Redis that this script starts and stops.
# Extra arguments go to pytest (e.g. `make test ARGS="-k providers"`).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export PATH="$VENV/bin:$PATH"

# QUICK=1 skips linters and Django checks (for a fast edit-test loop), never in `make test`.
if [[ -z "${QUICK:-}" ]]; then
    log "ruff"
    ruff check .
    ruff format --check .
    log "mypy"
    mypy .
fi

TMP="$(mktemp -d /tmp/seedbed-test.XXXXXX)"
chmod 755 "$TMP"
PG_PORT="$(free_port)"
REDIS_PORT="$(free_port)"
cleanup() { pg_stop "$TMP/pg"; redis_stop "$REDIS_PORT"; rm -rf "$TMP"; }
trap cleanup EXIT
PG_FSYNC=off pg_start "$TMP/pg" "$PG_PORT"
redis_start "$TMP/redis" "$REDIS_PORT"
export DATABASE_URL="postgres://seedbed@127.0.0.1:$PG_PORT/seedbed"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export EMBEDDED_LLM_URL="http://127.0.0.1:$(free_port)/v1"

if [[ -z "${QUICK:-}" ]]; then
    log "makemigrations --check"
    python manage.py makemigrations --check --dry-run >/dev/null
    log "check --deploy (production-like settings)"
    DEBUG=false SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
        FIELD_ENCRYPTION_SALTS=ci-salt ALLOWED_HOSTS=seedbed.example.com \
        python manage.py check --deploy --fail-level WARNING
fi
log "pytest"
python -m pytest "$@"
