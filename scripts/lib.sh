# Shared by scripts/test, scripts/serve and .ci/run: bring up what the server and the tests
# need on a Debian or Ubuntu machine, installing with apt-get only what is missing. Sourced,
# not run.

log() { printf '\n== %s\n' "$*" >&2; }

# apt-get as root, or through sudo when there is one.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2
    return 1
  fi
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q "$@" || { as_root apt-get update -q && as_root apt-get install -y -q "$@"; }
}

pg_ok() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }

# PostgreSQL at 127.0.0.1:5432, user postgres without a password (what the tests and the
# server's default settings use): started, or installed and started.
ensure_postgres() {
  if command -v psql >/dev/null 2>&1 && pg_ok; then return; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-contrib
  fi
  local version hba
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Local connections as postgres over TCP without a password.
  if ! as_root grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  fi
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
  for _ in $(seq 1 30); do
    pg_ok && return
    sleep 1
  done
  echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
  return 1
}

ensure_cargo() {
  if command -v cargo >/dev/null 2>&1; then return; fi
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH" && return
  log "installing Rust (rustup, stable)"
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
  export PATH="$HOME/.cargo/bin:$PATH"
}

# What the tests need beyond PostgreSQL: OpenSSL (keys are checked with an implementation
# independent of ours), Node.js 20+ (the OpenID Connect provider, @supabase/auth-js, the
# browser driver) with the npm packages of tests/node, and Chromium.
ensure_test_tools() {
  command -v openssl >/dev/null 2>&1 || { log "installing openssl"; apt_install openssl; }
  command -v npm >/dev/null 2>&1 || { log "installing Node.js"; apt_install nodejs npm; }
  # An older distribution package is replaced by the `node` package of the npm registry.
  if ! node -e 'process.exit(parseInt(process.versions.node, 10) >= 20 ? 0 : 1)'; then
    log "Node.js $(node --version) is too old: installing Node.js 22 from the npm registry"
    as_root npm install -g node@22 --no-audit --no-fund --loglevel=error
    hash -r
  fi
  log "test packages: OpenID Connect provider, auth-js, playwright-core (npm ci)"
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
  command -v chromium >/dev/null 2>&1 || { log "installing Chromium"; apt_install chromium; }
}
