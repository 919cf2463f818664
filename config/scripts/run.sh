#!/usr/bin/env bash
# `make run`: install what is missing, start local PostgreSQL and Redis (unless
# DATABASE_URL / REDIS_URL point elsewhere), migrate, create the demo user and project,
# then run the Procfile's processes under config/supervise.py, which restarts one that
# exits while the others keep serving (Ctrl-C stops them all).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash config/scripts/bootstrap.sh
export PATH="$VENV/bin:$PATH"

mkdir -p .local
if [[ ! -f .local/env ]]; then
    log "generating local secrets in .local/env"
    umask 077
    {
        echo "SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        echo "FIELD_ENCRYPTION_SALTS=$(python -c 'import secrets; print(secrets.token_hex(16))')"
    } > .local/env
fi
if [[ -z "${DATABASE_URL:-}" ]]; then
    pg_start "$ROOT/.local/pg" 54329
fi
if [[ -z "${REDIS_URL:-}" ]]; then
    redis_start "$ROOT/.local/redis" 63799
fi
# Production settings unless DEBUG=true is set (here or in .local/env); plain HTTP on
# loopback, so no HTTPS redirect or secure-only cookies unless HTTPS=true is set.
setting() { [[ -n "${!1:-}" ]] || grep -q "^$1=" .local/env; }
setting DEBUG || export DEBUG=false
setting HTTPS || export HTTPS=false
python manage.py collectstatic --no-input -v 0
python manage.py migrate --no-input -v 0
python manage.py seed_demo
exec python -m config.supervise Procfile
