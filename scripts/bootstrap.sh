#!/usr/bin/env bash
# Installs what Kinship needs on a fresh Debian machine: uv, Java 17 + Maven (to fetch and run
# Apache Kafka and Keycloak from Maven Central), PostgreSQL 15 server binaries, Debian's
# Chromium and ChromeDriver (the console's browser tests) and npm (axe-core for them); then
# the Python workspace and the pinned npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql-15)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: please install: ${need_apt[*]} (sudo apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
  echo "bootstrap: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi
if ! command -v uv >/dev/null 2>&1; then
  echo "bootstrap: installing uv"
  python3 -m pip install --quiet 'uv>=0.9,<1'
fi
uv sync --frozen --quiet
# axe-core for the browser tests and the htmx release the console vendors (package-lock.json).
if ! cmp -s package-lock.json node_modules/.kinship-installed-lock.json 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.kinship-installed-lock.json
fi
