#!/usr/bin/env bash
# Installs what persistream needs into ./.venv (and the page's vendored JavaScript), idempotently.
# Usage: scripts/setup.sh [--test]   (--test also installs the test tools: Node test clients, Chromium, nginx, Caddy)
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--test" ] && want_tests=1

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: persistream needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
extras=""
[ "$want_tests" = 1 ] && extras="[test]"
# Reinstall only when the declared dependencies changed since the last install.
stamp=".venv/.persistream-installed$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages$extras"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".$extras"
  touch "$stamp"
fi

# The chat page's and GraphiQL's JavaScript, pinned in a lock file and installed from the npm registry.
if [ -x scripts/build_assets.sh ]; then
  if command -v npm >/dev/null 2>&1; then
    scripts/build_assets.sh
  elif [ -n "${CI:-}" ]; then
    echo "setup: npm not found; it is needed to install the chat page's JavaScript" >&2
    exit 1
  else
    echo "setup: npm not found; the chat page will ask for it and GraphiQL will use its CDN page" >&2
  fi
fi

if [ "$want_tests" = 1 ]; then
  # The Node test clients (graphql-ws, graphql-sse, Apollo Client), from their lock file; again whenever the lock
  # file is newer than the install.
  node_stamp=tests/node/node_modules/.persistream-installed
  if [ -f tests/node/package-lock.json ] && { [ ! -f "$node_stamp" ] || [ tests/node/package-lock.json -nt "$node_stamp" ]; }; then
    echo "setup: installing the Node test clients"
    npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
    touch "$node_stamp"
  fi
  # The JavaScript client's own tooling (tsc, esbuild, ws, React) for its tests, from its lock file; again
  # whenever the lock file is newer than the install.
  client_stamp=clients/js/node_modules/.persistream-installed
  if [ -f clients/js/package-lock.json ] && { [ ! -f "$client_stamp" ] || [ clients/js/package-lock.json -nt "$client_stamp" ]; }; then
    echo "setup: installing the JavaScript client's test tools"
    npm ci --prefix clients/js --no-audit --no-fund --loglevel=error
    touch "$client_stamp"
  fi
  # The example app (examples/react-chat), built and driven by tests/browser/test_react_example.py. It installs a
  # copy of clients/js (install-links), so again whenever the lock file or the client's built files changed.
  example_stamp=examples/react-chat/node_modules/.persistream-installed
  if [ -f examples/react-chat/package-lock.json ] && { [ ! -f "$example_stamp" ] \
      || [ -n "$(find examples/react-chat/package-lock.json clients/js/package.json clients/js/dist -newer "$example_stamp" -print -quit)" ]; }; then
    echo "setup: installing the example app's packages"
    npm ci --prefix examples/react-chat --no-audit --no-fund --loglevel=error
    touch "$example_stamp"
  fi
  # The AI SDK example (examples/ai-sdk-chat: useChat on persistream-client/ai-sdk), built and driven by
  # tests/browser/test_ai_sdk_example.py; a copy of clients/js too, so again on the same changes.
  ai_sdk_stamp=examples/ai-sdk-chat/node_modules/.persistream-installed
  if [ -f examples/ai-sdk-chat/package-lock.json ] && { [ ! -f "$ai_sdk_stamp" ] \
      || [ -n "$(find examples/ai-sdk-chat/package-lock.json clients/js/package.json clients/js/dist -newer "$ai_sdk_stamp" -print -quit)" ]; }; then
    echo "setup: installing the AI SDK example's packages"
    npm ci --prefix examples/ai-sdk-chat --no-audit --no-fund --loglevel=error
    touch "$ai_sdk_stamp"
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "setup: installing Chromium for the browser tests"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "setup: install Chromium (e.g. 'sudo apt-get install chromium') to run the browser tests" >&2
    fi
  fi
  # The reverse proxies of docs/deploy, run in front of real servers by tests/scale/test_reverse_proxy.py.
  for proxy in nginx caddy; do
    if ! command -v "$proxy" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$proxy" ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing $proxy for the reverse-proxy tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$proxy" >/dev/null
      else
        echo "setup: install $proxy (e.g. 'sudo apt-get install $proxy') to run the reverse-proxy tests" >&2
      fi
    fi
  done
fi
