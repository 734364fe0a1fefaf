#!/usr/bin/env bash
# Installs the browser libraries pinned in persistream/web/frontend/package-lock.json from the npm registry and
# copies the few files the chat page and GraphiQL load into persistream/web/static/vendor/ (not committed), with
# the project's own JavaScript client from clients/js/dist.
# There is no bundling: the page loads these files as they ship. Idempotent; `npm ci` runs only when the lock file
# changed since the last install. Needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # globs sort bytewise, the order setup.py hashes the client's files in

front=persistream/web/frontend
modules=$front/node_modules
vendor=persistream/web/static/vendor

stamp=$modules/.persistream-installed
if [ ! -f "$stamp" ] || [ "$front/package-lock.json" -nt "$stamp" ] || [ "$front/package.json" -nt "$stamp" ]; then
  echo "build_assets: installing the pinned npm packages"
  npm ci --prefix "$front" --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# Assemble beside node_modules, then swap in whole: the server never sees a half-copied vendor/ (GraphiQL falls
# back to its CDN page only when vendor/graphiql/ is absent, so a partial copy would be served broken).
staging=$modules/.vendor-staging
rm -rf "$staging"
mkdir -p "$staging"

copy() {  # copy PACKAGE TARGET_DIR FILE... (paths relative to the package), plus the package's licence
  local package=$1 target=$staging/$2
  shift 2
  mkdir -p "$target"
  for file in "$@"; do
    cp "$modules/$package/$file" "$target/"
  done
  for licence in "$modules/$package"/LICENSE*; do
    [ -f "$licence" ] && cp "$licence" "$target/"
  done
}

# The chat page: ES modules, imported by relative path.
copy marked marked lib/marked.esm.js
copy dompurify dompurify dist/purify.es.mjs
# graphql-ws's client module imports a shared chunk whose name carries a hash; copy it along by pattern.
copy graphql-ws graphql-ws dist/client.js
for chunk in "$modules"/graphql-ws/dist/common-*.js; do
  cp "$chunk" "$staging/graphql-ws/"
done
# The page's streaming: the project's own JavaScript client (clients/js, built files committed). Its one bare
# import, graphql-ws's client, becomes the relative path of the copy beside it; its React hook is not needed.
client_dist=clients/js/dist
client_files=()
for file in "$client_dist"/*.js; do
  [ "$(basename "$file")" = react.js ] || client_files+=("$file")
done
mkdir -p "$staging/persistream-client"
for file in "${client_files[@]}"; do
  sed 's#from "graphql-ws/client"#from "../graphql-ws/client.js"#' "$file" >"$staging/persistream-client/$(basename "$file")"
done
if grep -nE "from \"[^./]" "$staging"/persistream-client/*.js; then
  echo "build_assets: a bare import is left in the client's files (above); the page cannot load it" >&2
  exit 1
fi
# GraphiQL: classic scripts with globals (React, ReactDOM, GraphiQL), as the graphiql package ships them.
copy react react umd/react.production.min.js
copy react-dom react-dom umd/react-dom.production.min.js
copy graphiql graphiql graphiql.min.js graphiql.min.css

# What these files were built from, so the package build (setup.py) can tell current files from stale ones.
cat "$front/package-lock.json" scripts/build_assets.sh "${client_files[@]}" | sha256sum | cut -d' ' -f1 >"$staging/.build-inputs.sha256"

rm -rf "$vendor"
mv "$staging" "$vendor"
echo "build_assets: vendor files ready in $vendor"
