#!/usr/bin/env bash
# Static checks of the Helm chart (deploy/helm/kinship), without Docker or a Kubernetes
# cluster (docs/kubernetes.md, Validation):
#   1. tools: helm and kubeconform, pinned, built with the machine's Go into
#      .kinship/tools/bin (skipped when the pinned version is there); PyYAML hash-pinned in a
#      tools venv (deploy/tools/check-helm/requirements.txt);
#   2. the chart's registry (topics, ACLs, secrets) matches the code: generate.py --check;
#   3. the vendored JSON schemas match deploy/schemas/sources.json (offline);
#   4. helm lint --strict and helm template with the default values and each ci/*-values.yaml
#      (every optional feature on; mTLS with KEDA and values-created Secrets);
#   5. kubeconform -strict on every rendered manifest against the vendored schemas only
#      (Kubernetes built-ins, Strimzi KafkaTopic/KafkaUser, KEDA ScaledObject/
#      TriggerAuthentication): no network, no kind skipped;
#   6. the rendered KafkaTopics, KafkaUser ACLs, Deployments, migration hooks, KEDA triggers,
#      settings, secret references and NetworkPolicies agree with the registry
#      (deploy/helm/verify_rendered.py);
#   7. self-tests: known-bad manifests must be rejected, a stale registry must be caught, a
#      chart whose topics or ACLs drift from the registry or whose NetworkPolicies misplace
#      the check-in vault or whose lanes drift (a consumer run twice, a lane's pods picked by
#      the Service) must fail step 6, misspelt or misplaced values and secret values
#      the services would refuse (the development note key under any id, the development API
#      key as its SHA-256) must be refused, and a required secret left empty must fail the
#      render (listed in NOTES.txt only with validation.allowMissingSecrets=true).
# Exits non-zero on any problem. Needs: bash, python3, uv (installed with pip when missing),
# Go >= 1.26 (helm v3.22's requirement), and the Go module proxy and PyPI on first run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pins (docs/kubernetes.md says how to update them).
HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VERSION=1.35.4 # the schemas in deploy/schemas/kubernetes (vendor.py)
CHART=deploy/helm/kinship
REGISTRY=$CHART/files/registry.json
REQUIREMENTS=deploy/tools/check-helm/requirements.txt
TOOLS_DIR=${KINSHIP_TOOLS_DIR:-.kinship/tools}
BIN_DIR=$TOOLS_DIR/bin
VENV=$TOOLS_DIR/check-helm-venv
OUT=.kinship/check-helm # rendered manifests, kept for inspection

# shellcheck source=scripts/lib/steps.sh
source scripts/lib/steps.sh

mkdir -p "$BIN_DIR" "$OUT"
BIN_DIR=$(cd "$BIN_DIR" && pwd)
VENV=$(cd "$TOOLS_DIR" && pwd)/$(basename "$VENV")
HELM=$BIN_DIR/helm
KUBECONFORM=$BIN_DIR/kubeconform

# --- 1. tools ------------------------------------------------------------------------------
if ! command -v go >/dev/null 2>&1; then
  echo "check-helm: Go is required to build helm and kubeconform (the go command on PATH)" >&2
  exit 1
fi
ensure_uv

# go_tool BINARY MODULE PACKAGE VERSION [LDFLAGS]: go install into BIN_DIR unless the binary
# there was built from MODULE@VERSION (its build info says) with these ldflags (its stamp says;
# -trimpath keeps them out of the build info).
go_tool() {
  local binary=$1 module=$2 package=$3 version=$4 ldflags=${5:-}
  local target=$BIN_DIR/$binary
  local stamp
  stamp=$(printf '%s\n' "$module@$version" "$ldflags" | sha256sum | cut -d' ' -f1)
  if [ -x "$target" ] && [ "$(cat "$target.stamp" 2>/dev/null)" = "$stamp" ] \
      && go version -m "$target" 2>/dev/null \
        | awk -v m="$module" -v v="$version" '$1 == "mod" && $2 == m && $3 == v {found = 1} END {exit !found}'; then
    echo "    $binary $version: up to date ($target)"
    return
  fi
  echo "    $binary $version: go install $package@$version ($(go env GOVERSION); first run downloads its modules)"
  GOBIN=$BIN_DIR CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags "$ldflags" "$package@$version"
  echo "$stamp" > "$target.stamp"
}

step "tools: helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION in $BIN_DIR; PyYAML in $VENV"
# As helm's own release build: its version, and the Kubernetes version it defaults to (its
# k8s.io/client-go is v0.37, so 1.37) for `helm template` and lint without --kube-version.
HELM_KUBE_MINOR=37
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
  helm_ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$HELM_KUBE_MINOR"
done
go_tool helm helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "$helm_ldflags"
go_tool kubeconform github.com/yannh/kubeconform github.com/yannh/kubeconform/cmd/kubeconform \
  "$KUBECONFORM_VERSION" "-s -w"
echo "    $("$HELM" version --short)"
ensure_venv "$VENV" "$REQUIREMENTS" "PyYAML venv"
echo "    $("$VENV/bin/python" -c 'import yaml; print("PyYAML", yaml.__version__)')"
done_step

# --- 2. registry -------------------------------------------------------------------------------
step "registry: $REGISTRY matches the code (uv run python deploy/helm/generate.py --check)"
if ! uv run --frozen python deploy/helm/generate.py --check; then
  fail "$REGISTRY is stale: run 'uv run python deploy/helm/generate.py' and commit it"
fi
done_step

# --- 3. vendored schemas -----------------------------------------------------------------------
step "schemas: deploy/schemas matches sources.json (offline)"
if ! uv run --frozen python deploy/schemas/vendor.py --verify; then
  fail "the vendored schemas were edited or are incomplete"
fi
schemas_version=$(python3 -c "import json; print(json.load(open('deploy/schemas/sources.json'))['kubernetesVersion'])")
if [ "$schemas_version" != "$KUBERNETES_VERSION" ]; then
  fail "deploy/schemas holds Kubernetes $schemas_version, this script pins $KUBERNETES_VERSION"
fi
done_step

kubeconform() {
  "$KUBECONFORM" -strict -summary -kubernetes-version "$KUBERNETES_VERSION" \
    -schema-location 'deploy/schemas/kubernetes/{{ .NormalizedKubernetesVersion }}/{{ .ResourceKind }}{{ .KindSuffix }}.json' \
    -schema-location 'deploy/schemas/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json' \
    "$@"
}

# --- 4. lint and render ------------------------------------------------------------------------
value_sets=(default "$CHART"/ci/*-values.yaml)
rendered=()
for values in "${value_sets[@]}"; do
  if [ "$values" = default ]; then
    name=default
    # The defaults hold no secrets: every render refuses them unless told this is CI.
    args=(--set validation.allowMissingSecrets=true)
  else
    name=$(basename "$values" -values.yaml)
    args=(--values "$values")
  fi
  step "helm lint --strict and helm template ($name values)"
  if ! "$HELM" lint "$CHART" --strict --kube-version "$KUBERNETES_VERSION" "${args[@]}"; then
    fail "helm lint ($name values)"
  fi
  target=$OUT/$name.yaml
  if "$HELM" template kinship "$CHART" --namespace kinship --kube-version "$KUBERNETES_VERSION" \
      "${args[@]}" > "$target"; then
    echo "    rendered $target: $(grep -c '^kind: ' "$target") resources"
    rendered+=("$target")
  else
    fail "helm template ($name values)"
  fi
  done_step
done

# --- 5. schemas --------------------------------------------------------------------------------
step "kubeconform -strict (Kubernetes $KUBERNETES_VERSION, Strimzi and KEDA CRDs from deploy/schemas)"
if [ ${#rendered[@]} -gt 0 ] && ! kubeconform "${rendered[@]}"; then
  fail "a rendered manifest does not match its schema"
fi
done_step

# --- 6. the registry, rendered -------------------------------------------------------------------
step "rendered KafkaTopics, KafkaUser ACLs, Deployments, hooks, KEDA triggers, secrets and NetworkPolicies vs the registry"
if [ ${#rendered[@]} -gt 0 ] && ! "$VENV/bin/python" deploy/helm/verify_rendered.py "$REGISTRY" "${rendered[@]}"; then
  fail "the rendered chart disagrees with the registry"
fi
done_step

# --- 7. self-tests -------------------------------------------------------------------------------
step "self-tests: the checks above catch what they are for"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# (a) every known-bad manifest is rejected, and a kind without a schema is an error.
if kubeconform -output json deploy/schemas/tests/invalid.yaml > "$tmp/invalid.json" 2>&1; then
  fail "kubeconform accepted deploy/schemas/tests/invalid.yaml"
fi
if ! python3 - "$tmp/invalid.json" deploy/schemas/tests/invalid.yaml <<'PY'
import json, re, sys
report = json.load(open(sys.argv[1]))
expected = len(re.findall(r"^kind: ", open(sys.argv[2]).read(), re.M))
statuses = [r["status"] for r in report["resources"]]
invalid, errors = statuses.count("statusInvalid"), statuses.count("statusError")
print(f"    kubeconform rejected {invalid} known-bad manifests and reported {errors} kind without a schema")
sys.exit(0 if (invalid, errors) == (expected - 1, 1) and len(statuses) == expected else 1)
PY
then
  fail "kubeconform did not reject every known-bad manifest in deploy/schemas/tests/invalid.yaml"
fi
# (b) a registry file that differs from the code is caught.
cp "$REGISTRY" "$tmp/registry.json"
python3 - "$tmp/registry.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
data["topics"][0]["partitions"] += 1
json.dump(data, open(sys.argv[1], "w"), indent=2, sort_keys=True)
PY
if uv run --frozen python deploy/helm/generate.py --check --file "$tmp/registry.json" > /dev/null 2>&1; then
  fail "generate.py --check accepted a stale registry file"
else
  echo "    generate.py --check caught a stale registry file"
fi
# (c) a chart rendering topics or ACLs that differ from the registry fails step 6.
cp -r "$CHART" "$tmp/chart"
python3 - "$tmp/chart/files/registry.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
data["topics"].pop()  # a topic the chart would no longer render
data["services"]["checkin"]["acls"]["write"].append("escalation.cases")  # a right too many
json.dump(data, open(sys.argv[1], "w"))
PY
"$HELM" template kinship "$tmp/chart" --namespace kinship --kube-version "$KUBERNETES_VERSION" \
  --set validation.allowMissingSecrets=true > "$tmp/drift.yaml"
if "$VENV/bin/python" deploy/helm/verify_rendered.py "$REGISTRY" "$tmp/drift.yaml" > "$tmp/drift.log" 2>&1; then
  fail "verify_rendered.py accepted a chart whose topics and ACLs drifted from the registry"
elif [ "$(grep -c '^FAIL' "$tmp/drift.log")" -lt 2 ]; then
  fail "verify_rendered.py did not report both the missing topic and the extra ACL"
else
  echo "    verify_rendered.py caught a missing KafkaTopic and an extra ACL"
fi
# (d) NetworkPolicies that open the vault to the wrong pod, or close it to a client, fail step 6.
"$VENV/bin/python" - .kinship/check-helm/default.yaml "$tmp/fences.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for doc in docs:
    if doc["kind"] != "NetworkPolicy":
        continue
    name, spec = doc["metadata"]["name"], doc["spec"]
    if name.endswith("-escalation"):  # escalation loses its way to the vault
        spec["egress"] = [r for r in spec["egress"] if "8001" not in str(r.get("ports"))]
    if name.endswith("-recognition-migrations"):  # a migration Job may call the vault
        spec["egress"].append({"ports": [{"protocol": "TCP", "port": 8001}]})
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
"$VENV/bin/python" deploy/helm/verify_rendered.py "$REGISTRY" "$tmp/fences.yaml" > "$tmp/fences.log" 2>&1 || true
if grep -q 'escalation cannot reach the check-in service' "$tmp/fences.log" \
    && grep -q 'recognition migration may reach the check-in port' "$tmp/fences.log"; then
  echo "    verify_rendered.py caught a vault client fenced out and a migration Job let in"
else
  fail "verify_rendered.py did not catch NetworkPolicies that misplace the check-in vault"
fi
# (g) lanes that drift fail step 6: the escalation Deployment keeps the urgent consumer while
# its urgent lane runs it too (no exclusion), the urgent lane's pods carry the escalation
# pods' labels (the Service and the escalation Deployment would pick them).
"$VENV/bin/python" - .kinship/check-helm/default.yaml "$tmp/lanes.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for doc in docs:
    name = doc["metadata"]["name"]
    if doc["kind"] == "Deployment" and name.endswith("-escalation"):
        container = doc["spec"]["template"]["spec"]["containers"][0]
        container["env"] = [e for e in container["env"] if e["name"] != "KINSHIP_EXCLUDED_CONSUMERS"]
    if doc["kind"] == "Deployment" and name.endswith("-escalation-urgent"):
        doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] = "server"
        doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "server"
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
"$VENV/bin/python" deploy/helm/verify_rendered.py "$REGISTRY" "$tmp/lanes.yaml" > "$tmp/lanes.log" 2>&1 || true
if grep -q "Deployment kinship-escalation: KINSHIP_EXCLUDED_CONSUMERS='', want 'urgent'" "$tmp/lanes.log" \
    && grep -q 'Service kinship-escalation: selects the pods of Deployment kinship-escalation-urgent' "$tmp/lanes.log" \
    && grep -q 'Deployment kinship-escalation: its selector picks the pods of Deployment kinship-escalation-urgent' "$tmp/lanes.log"; then
  echo "    verify_rendered.py caught a lane's consumer run twice and its pods picked by the Service"
else
  fail "verify_rendered.py did not catch lanes that drift: $(grep '^FAIL' "$tmp/lanes.log" | head -3)"
fi
# refused RENDER_ARGS... -- TEXT: helm template with the mtls values and RENDER_ARGS must fail
# saying TEXT.
refused() {
  local args=() text
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  text=$2
  if "$HELM" template kinship "$CHART" --namespace kinship -f "$CHART/ci/mtls-values.yaml" \
      "${args[@]}" > "$tmp/refused.log" 2>&1; then
    fail "helm template accepted ${args[*]}"
  elif ! grep -qF -- "$text" "$tmp/refused.log"; then
    fail "helm template refused ${args[*]} without saying '$text': $(tail -1 "$tmp/refused.log")"
  else
    refusals=$((refusals + 1))
  fi
}
# (e) misspelt values are refused (values.schema.json), and so are secrets and settings given
# to a workload that does not read them, and secret values the services would refuse.
refusals=0
if "$HELM" lint "$CHART" --set services.checkin.replica=3 > "$tmp/lint.log" 2>&1; then
  fail "helm lint accepted the misspelt value services.checkin.replica"
else
  refusals=$((refusals + 1))
fi
refused --set services.checkin.secrets.values.KINSHIP_NOTE_KEY=x -- "KINSHIP_NOTE_KEY is not a secret this one reads"
refused --set services.checkin.secrets.values.KINSHIP_REQUEST_SIGNING_KEY=render-only-placeholder-request-signing-key-00000 \
  -- "KINSHIP_REQUEST_SIGNING_KEY is not a secret this one reads"
refused --set console.secrets.values.KINSHIP_DEAD_LETTER_KEY=render-only-placeholder-dead-letter-key-0000000000 \
  -- "KINSHIP_DEAD_LETTER_KEY is not a secret this one reads"
refused --set services.notifications.env.KINSHIP_WEBHOOK_SECRET=x -- "KINSHIP_WEBHOOK_SECRET is a secret"
refused --set services.recognition.env.KINSHIP_SMTP_HOST=smtp.example.com -- "KINSHIP_SMTP_HOST is not a setting of recognition"
refused --set config.env.KINSHIP_CHECKIN_URL=http://elsewhere:8001 -- "KINSHIP_CHECKIN_URL is set by the chart"
refused --set services.escalation.env.KINSHIP_EXCLUDED_CONSUMERS=checkins -- "KINSHIP_EXCLUDED_CONSUMERS is set by the chart"
refused --set services.escalation.secrets.values.KINSHIP_GRANT_KEY=render-only-placeholder-another-grant-key-000000 \
  -- "KINSHIP_GRANT_KEY must be the same value in checkin, escalation"
refused --set services.notifications.secrets.values.KINSHIP_WEBHOOK_SECRET=short -- "KINSHIP_WEBHOOK_SECRET is shorter than 32 bytes"
refused --set secrets.values.KINSHIP_DEAD_LETTER_KEY=kinship-dev-dead-letter-key-not-for-production \
  -- "KINSHIP_DEAD_LETTER_KEY is the local stack's published development value"
# The published development note key under another id, or kept in a rotation list.
refused --set-string 'services.checkin.secrets.values.KINSHIP_NOTE_KEYS=k9:a2luc2hpcC1kZXYtbm90ZS1rZXktMzItYnl0ZXMhISE=' \
  -- "KINSHIP_NOTE_KEYS: the key \"k9\" is the local stack's published development note key"
refused --set-string 'services.escalation.secrets.values.KINSHIP_CASE_NOTE_KEYS=k1:cmVuZGVyLW9ubHktcGxhY2Vob2xkZXItbm90ZS1rZXktMzI=\,old:a2luc2hpcC1kZXYtbm90ZS1rZXktMzItYnl0ZXMhISE=' \
  -- "KINSHIP_CASE_NOTE_KEYS: the key \"old\" is the local stack's published development note key"
refused --set services.recognition.secrets.values.KINSHIP_CHECKIN_API_KEY=render-only-placeholder-unknown-vault-key-0000000 \
  -- "services.recognition.secrets.values.KINSHIP_CHECKIN_API_KEY is not one of the keys in secrets.values.KINSHIP_API_KEYS"
cat > "$tmp/scopes.yaml" <<'YAML'
secrets:
  values:
    KINSHIP_API_KEYS: >-
      [{"name": "escalation", "scopes": ["subjects:lookup", "subjects:erasure"],
        "key": "render-only-placeholder-escalation-vault-key-0000"},
       {"name": "notifications", "scopes": ["subjects:lookup", "subjects:deliver", "subjects:erasure"],
        "key": "render-only-placeholder-notifications-vault-key-000"},
       {"name": "recognition", "scopes": ["subjects:lookup", "subjects:erasure"],
        "key": "render-only-placeholder-recognition-vault-key-000"}]
YAML
refused -f "$tmp/scopes.yaml" -- "(escalation's KINSHIP_CHECKIN_API_KEY) lacks the scopes subjects:screen"
# The development API key given as its SHA-256 (sha256 of kinship-dev-key).
cat > "$tmp/dev-digest.yaml" <<'YAML'
secrets:
  values:
    KINSHIP_API_KEYS: >-
      [{"name": "escalation", "scopes": ["subjects:lookup", "subjects:screen"],
        "key": "render-only-placeholder-escalation-vault-key-0000"},
       {"name": "notifications", "scopes": ["subjects:deliver"],
        "key": "render-only-placeholder-notifications-vault-key-000"},
       {"name": "recognition", "scopes": ["subjects:lookup"],
        "key": "render-only-placeholder-recognition-vault-key-000"},
       {"name": "survey", "scopes": ["checkins:submit"],
        "key_sha256": "DEV_KEY_SHA256"}]
YAML
sed -i "s/DEV_KEY_SHA256/$(printf %s kinship-dev-key | sha256sum | cut -d' ' -f1)/" "$tmp/dev-digest.yaml"
refused -f "$tmp/dev-digest.yaml" -- "the key named \"survey\" is given as the SHA-256 of a development key"
echo "    values.schema.json and the templates refused $refusals values (misspelt, misplaced, unusable)"
# (f) a render with values-created Secrets that leaves a required secret empty is refused,
# naming it; with validation.allowMissingSecrets=true (CI only) it renders and NOTES.txt lists
# exactly the missing ones, and nothing when all are given. NOTES.txt is rendered through a
# ConfigMap added to a copy of the chart (helm template prints no notes).
cp -r "$CHART" "$tmp/notes-chart"
cat > "$tmp/notes-chart/templates/notes-check.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  NOTES.txt: {{ include "kinship/templates/NOTES.txt" . | quote }}
YAML
notes() {
  "$HELM" template kinship "$tmp/notes-chart" --namespace kinship -f "$CHART/ci/mtls-values.yaml" \
    --show-only templates/notes-check.yaml "$@" \
    | "$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["data"]["NOTES.txt"])'
}
empty=(--set services.escalation.secrets.values.KINSHIP_LINK_SECRET=
       --set console.secrets.values.KINSHIP_CONSOLE_SESSION_KEY=)
if notes > "$tmp/notes-complete.txt" && grep -q 'MISSING SETTINGS' "$tmp/notes-complete.txt"; then
  fail "ci/mtls-values.yaml gives every secret, yet NOTES.txt lists missing settings: $(grep '^  - ' "$tmp/notes-complete.txt" | tr -d '\n')"
elif "$HELM" template kinship "$CHART" --namespace kinship -f "$CHART/ci/mtls-values.yaml" \
    "${empty[@]}" > "$tmp/missing.log" 2>&1; then
  fail "helm template rendered with required secrets left empty (it must refuse)"
elif ! grep -qF 'Kinship cannot start without: ' "$tmp/missing.log" \
    || ! grep -qF 'services.escalation.secrets.values.KINSHIP_LINK_SECRET' "$tmp/missing.log" \
    || ! grep -qF 'console.secrets.values.KINSHIP_CONSOLE_SESSION_KEY' "$tmp/missing.log"; then
  fail "helm template refused the empty secrets without naming both: $(grep -F 'cannot start' "$tmp/missing.log")"
elif ! notes "${empty[@]}" --set validation.allowMissingSecrets=true > "$tmp/notes-missing.txt"; then
  fail "helm template failed with validation.allowMissingSecrets=true (it must render and list them)"
elif ! grep -q '^  - services.escalation.secrets.values.KINSHIP_LINK_SECRET ' "$tmp/notes-missing.txt" \
    || ! grep -q '^  - console.secrets.values.KINSHIP_CONSOLE_SESSION_KEY ' "$tmp/notes-missing.txt" \
    || [ "$(grep -c '^  - ' "$tmp/notes-missing.txt")" -ne 2 ]; then
  fail "NOTES.txt did not list exactly the two empty required secrets: $(grep '^  - ' "$tmp/notes-missing.txt" | tr -d '\n')"
else
  echo "    a render without a required secret was refused naming it; allowMissingSecrets lists it in NOTES.txt"
fi
done_step

if [ "$failures" -ne 0 ]; then
  echo "check-helm: FAILED ($failures problem(s)) in $(elapsed "$started") s"
  exit 1
fi
echo "check-helm: all checks passed in $(elapsed "$started") s (helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, Kubernetes $KUBERNETES_VERSION schemas)"
