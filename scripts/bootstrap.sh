#!/usr/bin/env bash
# Installs what Kinship needs on a fresh Debian machine: uv, Java 17 + Maven (to fetch and run
# Apache Kafka from Maven Central), PostgreSQL 15 server binaries; then the Python workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql-15)
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
