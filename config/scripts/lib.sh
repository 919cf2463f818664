# Shared shell helpers for bootstrap, run and test scripts. Source, don't execute.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
UV_VERSION="0.13.9"

log() { printf '\033[1;32m[seedbed]\033[0m %s\n' "$*" >&2; }

apt_install() {
    # Install Debian packages only when a command is missing.
    local missing=()
    while (($#)); do
        command -v "$1" >/dev/null 2>&1 || missing+=("$2")
        shift 2
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) -ne 0 ]]; then
        log "missing system packages: ${missing[*]} (install them with apt-get as root)"
        return 1
    fi
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

pg_bin() {
    # The directory holding initdb/pg_ctl (Debian keeps them out of PATH).
    if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -n "$dir" ]] || { apt_install initdb postgresql; dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }
    echo "$dir"
}

as_pg() {
    # PostgreSQL refuses to run as root: use the postgres user then.
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
    # pg_start DATADIR PORT: create the cluster on first use, then start it.
    local dir="$1" port="$2" bin
    bin="$(pg_bin)"
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
        chown postgres "$dir"
        chmod 700 "$dir"
    fi
    if [[ ! -f "$dir/PG_VERSION" ]]; then
        log "creating PostgreSQL cluster in $dir"
        as_pg "$bin/initdb" -D "$dir" -U seedbed --auth=trust -E UTF8 --no-instructions >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -o \
            "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-on} -c max_connections=200" \
            start >/dev/null
    fi
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U seedbed -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname='seedbed'" | grep -q 1 ||
        as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U seedbed seedbed
}

pg_stop() {
    local dir="$1"
    as_pg "$(pg_bin)/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
}

redis_start() {
    # redis_start DATADIR PORT
    local dir="$1" port="$2"
    apt_install redis-server redis-server
    mkdir -p "$dir"
    if ! redis-cli -p "$port" ping >/dev/null 2>&1; then
        redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
            --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no
        for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
}

redis_stop() {
    redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
