# Sourced by scripts/test: a throwaway PostgreSQL server for the store's shared test suite
# and a throwaway Redis for the shared budgets and rate limits (installing the Debian
# packages if missing), both stopped when the script exits. Exports
# SWITCHYARD_TEST_POSTGRES_URL and SWITCHYARD_TEST_REDIS_URL. Without root or apt, and
# neither already installed, those tests are skipped with a warning (CI runs as root).

start_test_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" = 0 ] && have apt-get; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    fi
  fi
  if [ -z "$bin" ]; then
    echo "switchyard: PostgreSQL not installed; the store tests run on SQLite only" >&2
    return 0
  fi
  local dir port run
  dir=$(mktemp -d /tmp/switchyard-pg.XXXXXX)
  port=$((20000 + RANDOM % 20000))
  # PostgreSQL refuses to run as root: the cluster belongs to the postgres user when we are root.
  run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  SWITCHYARD_TEST_PG_STOP="${run[*]} $bin/pg_ctl -D $dir/data -m immediate stop; rm -rf $dir"
  export SWITCHYARD_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "PostgreSQL for the tests on 127.0.0.1:$port"
}

start_test_redis() {
  if ! have redis-server; then
    if [ "$(id -u)" = 0 ] && have apt-get; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
  fi
  if ! have redis-server; then
    echo "switchyard: Redis not installed; the shared-limit tests are skipped" >&2
    return 0
  fi
  local dir port
  dir=$(mktemp -d /tmp/switchyard-redis.XXXXXX)
  port=$((20000 + RANDOM % 20000))
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/log" >/dev/null
  for _ in $(seq 50); do
    [ -s "$dir/redis.pid" ] && redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  SWITCHYARD_TEST_REDIS_STOP="kill \$(cat $dir/redis.pid); rm -rf $dir"
  export SWITCHYARD_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  echo "Redis for the tests on 127.0.0.1:$port"
}

SWITCHYARD_TEST_PG_STOP=true
SWITCHYARD_TEST_REDIS_STOP=true
trap 'eval "$SWITCHYARD_TEST_PG_STOP" >/dev/null 2>&1 || true; eval "$SWITCHYARD_TEST_REDIS_STOP" >/dev/null 2>&1 || true' EXIT
# Interrupted or terminated: exit, so that the EXIT trap stops the services.
trap 'exit 130' INT
trap 'exit 143' TERM
start_test_postgres
start_test_redis
