#!/usr/bin/env bash
# Static checks of the container files, without a Docker engine (docs/containers.md):
#   1. docker-compose.yml against the Compose Specification JSON schema (vendored from
#      github.com/compose-spec/compose-go/v2, checksum verified), with check-jsonschema
#      installed hash-pinned from deploy/compose/check-requirements.txt;
#   2. Kinship's Compose rules and the collector config (deploy/compose/check_policy.py);
#   3. services/Dockerfile, once per service with the build arguments docker-compose.yml gives
#      it, with BuildKit's own linter (the rules of `docker build --check`) and Kinship's
#      image policy (deploy/tools/dockerfile-lint, built with Go into .kinship/tools/bin,
#      rebuilt only when its sources or Go change).
# KINSHIP_REQUIRE_DIGESTS=1 also requires every third-party image to be pinned by digest.
# Exits non-zero on any problem. Needs: bash, python3, uv (installed with pip when missing),
# Go >= 1.26.8 (BuildKit's requirement), and PyPI and the Go module proxy on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pins (docs/containers.md says how to update them).
COMPOSE_GO_VERSION=v2.16.2
COMPOSE_SCHEMA=deploy/compose/compose-spec.json
COMPOSE_SCHEMA_SHA256=f266dcbb043229405d7cedd5aec918f9102c2b3d5e3850808fdd8edd564a43ff
CHECK_REQUIREMENTS=deploy/compose/check-requirements.txt
LINT_SRC=deploy/tools/dockerfile-lint
TOOLS_DIR=${KINSHIP_TOOLS_DIR:-.kinship/tools}
BIN_DIR=$TOOLS_DIR/bin
CHECK_VENV=$TOOLS_DIR/check-containers-venv

# shellcheck source=scripts/lib/steps.sh
source scripts/lib/steps.sh

mkdir -p "$BIN_DIR"
BIN_DIR=$(cd "$BIN_DIR" && pwd)
CHECK_VENV=$(cd "$TOOLS_DIR" && pwd)/$(basename "$CHECK_VENV")

# --- tools ---------------------------------------------------------------------------------
step "tools: check-jsonschema (hash-pinned, $CHECK_REQUIREMENTS) in $CHECK_VENV"
ensure_uv
ensure_venv "$CHECK_VENV" "$CHECK_REQUIREMENTS" check-jsonschema
echo "    $("$CHECK_VENV/bin/check-jsonschema" --version)"
done_step

step "tools: dockerfile-lint ($LINT_SRC, $(sed -n 's/^\tgithub.com\/moby\/buildkit \(v[^ ]*\).*/BuildKit \1/p' "$LINT_SRC/go.mod")) in $BIN_DIR"
if ! command -v go >/dev/null 2>&1; then
  echo "go is required to build $LINT_SRC (Go >= $(sed -n 's/^go //p' "$LINT_SRC/go.mod"))" >&2
  exit 1
fi
lint_bin=$BIN_DIR/dockerfile-lint
lint_stamp=$( (cd "$LINT_SRC" && cat go.mod go.sum ./*.go && go env GOVERSION GOOS GOARCH) | sha256sum | cut -d' ' -f1)
if [ -x "$lint_bin" ] && [ "$(cat "$lint_bin.stamp" 2>/dev/null)" = "$lint_stamp" ]; then
  echo "    up to date"
else
  echo "    building with $(go env GOVERSION) (BuildKit's modules come from the Go module proxy unless cached)"
  (cd "$LINT_SRC" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -mod=readonly -trimpath -o "$lint_bin.tmp" .)
  mv "$lint_bin.tmp" "$lint_bin"
  echo "$lint_stamp" > "$lint_bin.stamp"
fi
done_step

# --- 1. Compose schema ------------------------------------------------------------------------
step "compose: docker-compose.yml against the Compose Specification schema (compose-go $COMPOSE_GO_VERSION)"
if [ "$(sha256 "$COMPOSE_SCHEMA")" != "$COMPOSE_SCHEMA_SHA256" ]; then
  fail "$COMPOSE_SCHEMA does not match its recorded sha256 (docs/containers.md: updating the schema)"
elif ! "$CHECK_VENV/bin/check-jsonschema" --schemafile "$COMPOSE_SCHEMA" docker-compose.yml; then
  fail "docker-compose.yml does not follow the Compose Specification"
fi
done_step

# --- 2. Compose and collector policy ----------------------------------------------------------
step "compose: Kinship rules (deploy/compose/check_policy.py) and the collector config"
if ! "$CHECK_VENV/bin/python" deploy/compose/check_policy.py docker-compose.yml deploy/compose/otel-collector.yaml; then
  fail "docker-compose.yml or the collector config breaks a Kinship rule"
fi
done_step

# --- 3. Dockerfile ----------------------------------------------------------------------------
dockerfile=services/Dockerfile
step "dockerfile: BuildKit linter and image policy on $dockerfile, each service's build"
lint_flags=(-context .)
if [ "${KINSHIP_REQUIRE_DIGESTS:-0}" = 1 ]; then
  lint_flags+=(-require-digest)
fi
builds=$("$CHECK_VENV/bin/python" deploy/compose/check_policy.py --builds docker-compose.yml)
for build in $builds; do
  lint_flags+=(-build-args "$build")
done
if [ -z "$builds" ]; then
  fail "docker-compose.yml builds no service from $dockerfile"
elif ! "$lint_bin" "${lint_flags[@]}" "$dockerfile"; then
  fail "$dockerfile has lint or policy problems"
fi
done_step

if [ "$failures" -ne 0 ]; then
  echo "check-containers: FAILED ($failures step(s)) in $(elapsed "$started") s"
  exit 1
fi
echo "check-containers: all checks passed in $(elapsed "$started") s"
