#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer. When DATABASE_URL / REDIS_URL point at this machine
# and nothing answers, starts the locally installed servers; when they point elsewhere, only
# checks. Exits non-zero with instructions when a service is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/tokenmill}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}

say() { echo "tokenmill: $*" >&2; }

# host and port of a URL: scheme://[user[:pass]@]host[:port][/...]
url_host() {
  local rest=${1#*://}; rest=${rest%%/*}; rest=${rest%%\?*}; rest=${rest##*@}
  case $rest in
    \[*) rest=${rest#[}; echo "${rest%%]*}" ;; # [v6 address]
    *) echo "${rest%%:*}" ;;
  esac
}
url_port() { local rest=${1#*://}; rest=${rest%%/*}; rest=${rest%%\?*}; rest=${rest##*@}; case $rest in *\]:*|[!\[]*:*) echo "${rest##*:}" ;; *) echo "$2" ;; esac; }
is_local() { case $1 in 127.0.0.1|localhost|::1|"") return 0 ;; *) return 1 ;; esac; }

# Bash's /dev/tcp keeps this free of client tools; pg_isready / redis-cli are used when present.
tcp_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
pg_up() {
  if command -v pg_isready >/dev/null; then pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; else tcp_open "$PG_HOST" "$PG_PORT"; fi
}
redis_up() {
  if command -v redis-cli >/dev/null; then
    [ "$(timeout 5 redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = PONG ]
  else
    tcp_open "$REDIS_HOST" "$REDIS_PORT"
  fi
}
wait_for() { # check-fn seconds
  local i
  for ((i = 0; i < $2 * 2; i++)); do "$1" && return 0; sleep 0.5; done
  return 1
}

PG_HOST=$(url_host "$DATABASE_URL"); PG_PORT=$(url_port "$DATABASE_URL" 5432)
REDIS_HOST=$(url_host "$REDIS_URL"); REDIS_PORT=$(url_port "$REDIS_URL" 6379)
missing=()

start_postgres() {
  if command -v pg_lsclusters >/dev/null && command -v pg_ctlcluster >/dev/null; then
    # Debian/Ubuntu clusters: start the one configured for our port (usually 15/main).
    local version cluster port rest
    while read -r version cluster port rest; do
      [ "$port" = "$PG_PORT" ] || continue
      pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start >/dev/null 2>&1 || true
    done < <(pg_lsclusters -h 2>/dev/null)
  fi
  if ! pg_up && command -v service >/dev/null; then
    service postgresql start >/dev/null 2>&1 || true
  fi
  if ! pg_up && command -v pg_ctl >/dev/null && [ -n "${PGDATA:-}" ]; then
    pg_ctl -D "$PGDATA" -l "$PGDATA/server.log" start >/dev/null 2>&1 || true
  fi
}

start_redis() {
  command -v redis-server >/dev/null || return 0
  local dir=/var/lib/redis log=/var/log/redis/ci.log
  [ -w "$dir" ] || { dir=${TMPDIR:-/tmp}; }
  [ -w "$(dirname "$log")" ] || log=${TMPDIR:-/tmp}/tokenmill-redis.log
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$dir" --logfile "$log" >/dev/null 2>&1 ||
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir "$dir" --logfile "$log" >/dev/null 2>&1 || true
}

if ! pg_up; then
  if is_local "$PG_HOST"; then
    if command -v pg_ctlcluster >/dev/null || command -v postgres >/dev/null || [ -x /etc/init.d/postgresql ]; then
      say "PostgreSQL is not answering on $PG_HOST:$PG_PORT; starting it"
      start_postgres
      wait_for pg_up 30 || missing+=("PostgreSQL (installed but did not start on $PG_HOST:$PG_PORT; see /var/log/postgresql)")
    else
      missing+=("PostgreSQL (not installed: apt-get install postgresql)")
    fi
  else
    missing+=("PostgreSQL at $PG_HOST:$PG_PORT (from DATABASE_URL; not started because it is not local)")
  fi
fi

if ! redis_up; then
  if is_local "$REDIS_HOST"; then
    if command -v redis-server >/dev/null; then
      say "Redis is not answering on $REDIS_HOST:$REDIS_PORT; starting it"
      start_redis
      wait_for redis_up 30 || missing+=("Redis (installed but did not start on $REDIS_HOST:$REDIS_PORT)")
    else
      missing+=("Redis (not installed: apt-get install redis-server)")
    fi
  else
    missing+=("Redis at $REDIS_HOST:$REDIS_PORT (from REDIS_URL; not started because it is not local)")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  say "these services are needed but not reachable:"
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  cat >&2 <<'MSG'
Install and start them locally:
    sudo apt-get install postgresql redis-server
or, with Docker:
    docker compose up -d postgres redis minio
then run this command again (set DATABASE_URL / REDIS_URL to use servers elsewhere).
MSG
  exit 1
fi
