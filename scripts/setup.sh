#!/usr/bin/env bash
# Installs what building and testing Vulcan needs on a fresh Debian 12 machine, and nothing
# that is already there: Debian packages, the wasm32-wasip1 Rust target, the pinned Deno,
# the web page's packages, and the built page. `setup.sh test` also installs the browser
# the page's tests drive (Debian's chromium), PostgreSQL and HAProxy for the many-agent tests (each
# test binary starts a private cluster of its own) and the API fuzzer (schemathesis, from PyPI);
# `setup.sh bench`, PostgreSQL and HAProxy for the many-agent benchmark.
set -euo pipefail

apt_packages=(clang lld llvm wasi-libc prometheus bubblewrap)
case ${1:-} in
  test) apt_packages+=(chromium postgresql haproxy) ;;
  bench) apt_packages+=(postgresql haproxy) ;;
esac

missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! rustup target list --installed | grep -qx wasm32-wasip1; then
  echo "setup: adding the wasm32-wasip1 Rust target"
  rustup target add wasm32-wasip1
fi

# The isolate host's Deno, pinned by isolate-host/package-lock.json.
host=isolate-host
if [[ ! -x $host/node_modules/@deno/linux-x64-glibc/deno || $host/package-lock.json -nt $host/node_modules/.package-lock.json ]]; then
  echo "setup: installing the pinned Deno (npm ci in $host/)"
  (cd "$host" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The host program the agent runs, bundled into isolate-host/dist/host.js when any of its
# sources is newer than the last build.
if [[ ! -f $host/dist/host.js ]] ||
  [[ -n $(find "$host/main.ts" "$host/src" "$host/worker" "$host/build" -newer "$host/dist/host.js" -print -quit) ]]; then
  echo "setup: building the isolate host (npm run build in $host/)"
  (cd "$host" && npm run --silent build)
fi

# The API fuzzer (schemathesis), pinned with hashes by tests/fuzz/requirements.txt.
if [[ ${1:-} == test ]]; then
  venv=tests/fuzz/.venv
  if [[ ! -x $venv/bin/schemathesis || tests/fuzz/requirements.txt -nt $venv/bin/schemathesis ]]; then
    echo "setup: installing schemathesis into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --only-binary=:all: -r tests/fuzz/requirements.txt
  fi
fi

# The web page: packages pinned by web/package-lock.json, built into web/dist when any of
# its sources is newer than the last build.
web=web
if [[ ! -d $web/node_modules || $web/package-lock.json -nt $web/node_modules/.package-lock.json ]]; then
  echo "setup: installing the web page's packages (npm ci in $web/)"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ ! -f $web/dist/index.html ]] ||
  [[ -n $(find "$web/src" "$web/index.html" "$web/vite.config.ts" "$web/package-lock.json" -newer "$web/dist/index.html" -print -quit) ]]; then
  echo "setup: building the web page (npm run build in $web/)"
  (cd "$web" && npm run --silent build -- --logLevel warn)
fi
