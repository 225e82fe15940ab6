#!/usr/bin/env bash
# A real Kubernetes API server on 127.0.0.1, without Docker or a kubelet, for installing the
# Helm chart in tests (docs/kubernetes.md, "A real API server in make test"):
#
#   scripts/k8s.sh provision   etcd (Debian's etcd-server .deb, dpkg -x) and kube-apiserver +
#                              kube-controller-manager built from the Go module proxy, once,
#                              into $KINSHIP_TOOLS_DIR/k8s (default .kinship/tools/k8s); skipped
#                              when the pinned binaries are there. Checksums pinned below.
#   scripts/k8s.sh start [--owner-pid PID]
#                              starts etcd (client 32379, peer 32380), kube-apiserver (36443)
#                              and kube-controller-manager (no port: serviceaccount and
#                              namespace controllers) on 127.0.0.1 with fresh state in
#                              .kinship/k8s, registers the Strimzi KafkaTopic/KafkaUser and
#                              KEDA CRDs and waits until they are Established; writes
#                              .kinship/k8s/kubeconfig. With --owner-pid, a watchdog stops
#                              everything when that process ends (even by SIGKILL). Anything
#                              failing or too slow stops what was started and exits non-zero.
#   scripts/k8s.sh stop        stops what start started (by the pids it recorded), waits until
#                              they are gone; exits non-zero if one is left.
#   scripts/k8s.sh status      which of them run.
#   scripts/k8s.sh run CMD...  start, run CMD with KUBECONFIG set, stop (also on failure).
#
# Needs: bash, curl, openssl, python3, Go >= 1.25, apt-get and dpkg (Debian), Maven (installed
# by scripts/bootstrap.sh) and, on first run, the Go module proxy, Debian's archive and Maven
# Central. The pods the chart makes never run: there is no kubelet, scheduler or operator.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- pins ----------------------------------------------------------------------------------
KUBERNETES_VERSION=1.35.4
# go.sum hashes (the Go checksum database's; `go mod download` checks them too) of the
# sources kube-apiserver and kube-controller-manager are built from: k8s.io/kubernetes and the
# staging modules its go.mod replaces with ./staging/src/k8s.io/<name>, at v0.35.4.
KUBERNETES_MODULE_SUM=h1:o/8dBC/pHVpYoGV4OAIytAlNPZbdYVTXJHoYvXC4qzM=
STAGING_VERSION=v0.35.4
STAGING_SUMS="
k8s.io/api h1:P7nFYKl5vo9AGUp1Z+Pmd3p2tA7bX2wbFWCvDeRv988=
k8s.io/apiextensions-apiserver h1:HeP+Upp7ItdvnyGmub0yoix+2z5+ev4M5cE5TCgtOUU=
k8s.io/apimachinery h1:xtdom9RG7e+yDp71uoXoJDWEE2eOiHgeO4GdBzwWpds=
k8s.io/apiserver h1:vtuFqNFmF9bPRdHDL2lpK6qCTPWDreZJL4LRPwVM6ho=
k8s.io/cli-runtime h1:8QRCXSDvopflFNM65Vkkdv42BljPdRSiqf6HFyI1iik=
k8s.io/client-go h1:DN6fyaGuzK64UvnKO5fOA6ymSjvfGAnCAHAR0C66kD8=
k8s.io/cloud-provider h1:en1GHdaXhxsCXAJkXHj7uwjkx+BW/8bq7OOO7XqlbMw=
k8s.io/cluster-bootstrap h1:XAOSQ+4dvUPdksaVHp/C9rq0XlFmF3UHkx4KGgNgaU4=
k8s.io/code-generator h1:i0FfiXAeUMBlHarjVk5ZWf6Wjsg3YJpNYmOg0nPk6r4=
k8s.io/component-base h1:6n1tNJ87johN0Hif0Fs8K2GMthsaUwMqCebUDLYyv7U=
k8s.io/component-helpers h1:WJM/+fAeeJTAqxPDxgH0aB0q7t8DP+AbV5WkRkOoxYA=
k8s.io/controller-manager h1:hkd4rVb39Xmb/zCElz4fDc/xUgVHXZcrZpa+Wy09qVc=
k8s.io/cri-api h1:9/3Wj18YldMLADyiPoZGrdFHZ7miA8LVO2cjjWENPlk=
k8s.io/cri-client h1:9tJjRUpnmifbLthjlaoNZtXyjpmiypreBFXrqizQN1Q=
k8s.io/csi-translation-lib h1:r9p+eDGywrUxoWoC6dPdCOZpGe9XEivCNKksrgVW/ZE=
k8s.io/dynamic-resource-allocation h1:uUFnNPZ+uo/99jWZ+3xhr10BtZZM00n0WcPgBxk8KvM=
k8s.io/endpointslice h1:UnhPGZw3rVVYegcBDvtCthcza5jx7L6FdyRSxFjsel4=
k8s.io/externaljwt h1:kNXwktgQV8WQ2qqBMwhIKOJ9yGIs06aboYX3h2k45ig=
k8s.io/kms h1:0eE6Zd4nACEs8cc7qCxf3UwMAtgM87X8doj+pJCxJk0=
k8s.io/kube-aggregator h1:6eR50WHwqSYJQTR6QxEG5fRW2vBA6Yoqzp72hw76koE=
k8s.io/kube-controller-manager h1:6ueSSNn0mRdqGtshMwIs1mqENLDeoxhUV/nDzKPylCo=
k8s.io/kube-proxy h1:cUEpTlPSyD/pWpfP9+Gmjm17LngkYCtIVO625f1bt8c=
k8s.io/kube-scheduler h1:sM+xoIfF/meMxD26NxfojQsfgWUReJdPxZALaLOUxAU=
k8s.io/kubectl h1:IHitney6OUeH29rBQnt6Cas6az8HpFeSAohormITNMc=
k8s.io/kubelet h1:g/qX1F6PdJQYzAzje3BDRGGEAmeYiiRi9QlLuyliRyw=
k8s.io/metrics h1:KFo3xFe5rzLDarHLNjZB0J1g1c5fvl6A5Kk/8KzIwOA=
k8s.io/mount-utils h1:CRlXPCzdoFZ0sR+W42nX9NH67aV+YxMhp5yyu4feEY8=
k8s.io/pod-security-admission h1:2IK2zlpjCPCgtJwtGGIxP9rIj4mwUp5nQ2EKPn940E4=
k8s.io/sample-apiserver h1:opq5VGHTZRd+yaF3sMZgEeLZ6SrXvVXlZjOzHXQnYzg=
k8s.io/sample-cli-plugin h1:ZVBLwYfeKObYj5ulLbMgUxt8f3lab0ePHE58+OicMRk=
k8s.io/sample-controller h1:OMWonnLfbJlh6shvqbhAQB7tWzK+I6NHZxqHKaVKBcI=
"
# Debian 12's etcd-server (works with a 1.35 API server, which logs that RequestWatchProgress
# is unsupported and carries on).
ETCD_DEB_VERSION=3.4.23-4+b4
ETCD_DEB_SHA256=3a9445d4560ad6de1c375756b2a17d97713df44cbd20a658c871fe108af7ef5d
# The CRDs come from the packages and files deploy/schemas/sources.json pins (the ones the
# vendored schemas were made from), checked against the sha256 recorded there.
SOURCES=deploy/schemas/sources.json

# --- places and ports ------------------------------------------------------------------------
TOOLS_DIR=${KINSHIP_TOOLS_DIR:-.kinship/tools}
STATE=${KINSHIP_K8S_STATE_DIR:-.kinship/k8s}
ETCD_CLIENT_PORT=32379
ETCD_PEER_PORT=32380
APISERVER_PORT=36443
# Seconds for each wait of start (etcd, the API server, the controllers, each CRD).
START_TIMEOUT=${KINSHIP_K8S_START_TIMEOUT:-90}

mkdir -p "$TOOLS_DIR" "$STATE"
K8S_TOOLS=$(cd "$TOOLS_DIR" && pwd)/k8s
STATE=$(cd "$STATE" && pwd)
BIN=$K8S_TOOLS/bin
ETCD=$K8S_TOOLS/etcd-$ETCD_DEB_VERSION/usr/bin/etcd
APISERVER=$BIN/kube-apiserver
CONTROLLER_MANAGER=$BIN/kube-controller-manager
CRDS=$K8S_TOOLS/crds
KUBECONFIG_FILE=$STATE/kubeconfig
SERVER=https://127.0.0.1:$APISERVER_PORT
COMPONENTS="etcd kube-apiserver kube-controller-manager"

say() { echo "k8s: $*"; }
die() { echo "k8s: $*" >&2; exit 1; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# --- provision ---------------------------------------------------------------------------------

provision_etcd() {
  # (The version is read whole: grep -q closing the pipe early would fail it under pipefail.)
  if [ -x "$ETCD" ] && [ "$("$ETCD" --version | head -1)" = "etcd Version: ${ETCD_DEB_VERSION%%-*}" ]; then
    say "etcd $ETCD_DEB_VERSION: up to date ($ETCD)"
    return
  fi
  local debs=$K8S_TOOLS/debs deb
  deb=$debs/etcd-server_${ETCD_DEB_VERSION/:/%3a}_amd64.deb
  mkdir -p "$debs"
  if [ ! -f "$deb" ] || [ "$(sha256 "$deb")" != "$ETCD_DEB_SHA256" ]; then
    rm -f "$deb"
    say "etcd: apt-get download etcd-server=$ETCD_DEB_VERSION"
    if ! (cd "$debs" && apt-get download -q "etcd-server=$ETCD_DEB_VERSION" >/dev/null 2>&1); then
      say "etcd: not in the package lists; apt-get update"
      apt-get update -qq
      (cd "$debs" && apt-get download -q "etcd-server=$ETCD_DEB_VERSION" >/dev/null) \
        || die "apt-get download etcd-server=$ETCD_DEB_VERSION failed"
    fi
  fi
  [ "$(sha256 "$deb")" = "$ETCD_DEB_SHA256" ] \
    || die "$deb: sha256 $(sha256 "$deb"), pinned $ETCD_DEB_SHA256"
  rm -rf "$K8S_TOOLS/etcd-$ETCD_DEB_VERSION"
  dpkg -x "$deb" "$K8S_TOOLS/etcd-$ETCD_DEB_VERSION"
  say "etcd: $("$ETCD" --version | head -1) ($ETCD)"
}

# go_download MODULE@VERSION... : `go mod download -json`, one "path dir sum" line each.
go_download() {
  (cd "$K8S_TOOLS" && go mod download -json "$@") | python3 -c '
import json, sys
text, decoder, at = sys.stdin.read(), json.JSONDecoder(), 0
while text[at:].strip():
    at = len(text) - len(text[at:].lstrip())
    info, at = decoder.raw_decode(text, at)
    if info.get("Error"):
        sys.exit("k8s: %s@%s: %s" % (info["Path"], info["Version"], info["Error"]))
    print(info["Path"], info["Dir"], info["Sum"])
'
}

kube_ldflags() {
  local minor=${KUBERNETES_VERSION#*.}
  minor=${minor%%.*}
  # As hack/lib/version.sh does, so the server reports v1.35.4 (not v0.0.0-master, which the
  # chart's kubeVersion check refuses); the build date is the release tag's.
  local flags="-s -w" pkg key value
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for key in "gitVersion=v$KUBERNETES_VERSION" gitMajor=1 "gitMinor=$minor" gitTreeState=clean \
        buildDate=2026-04-15T18:01:22Z; do
      value=${key#*=}
      flags+=" -X $pkg.${key%%=*}=$value"
    done
  done
  echo "$flags"
}

provision_kube() {
  local ldflags stamp
  ldflags=$(kube_ldflags)
  stamp=$(printf '%s\n' "$KUBERNETES_VERSION" "$KUBERNETES_MODULE_SUM" "$STAGING_SUMS" "$ldflags" \
    "$(go env GOVERSION)" | sha256sum | cut -d' ' -f1)
  if [ -x "$APISERVER" ] && [ -x "$CONTROLLER_MANAGER" ] \
      && [ "$(cat "$BIN/.stamp" 2>/dev/null)" = "$stamp" ] \
      && [ "$("$APISERVER" --version)" = "Kubernetes v$KUBERNETES_VERSION" ] \
      && [ "$("$CONTROLLER_MANAGER" --version)" = "Kubernetes v$KUBERNETES_VERSION" ]; then
    say "kube-apiserver, kube-controller-manager v$KUBERNETES_VERSION: up to date ($BIN)"
    return
  fi
  command -v go >/dev/null 2>&1 || die "Go is required to build kube-apiserver (the go command on PATH)"
  local started=$SECONDS path dir sum name want src=$K8S_TOOLS/src
  say "building kube-apiserver and kube-controller-manager v$KUBERNETES_VERSION with $(go env GOVERSION) (first run: a few minutes, GOCACHE $(go env GOCACHE))"
  read -r path dir sum < <(go_download "k8s.io/kubernetes@v$KUBERNETES_VERSION")
  [ "$sum" = "$KUBERNETES_MODULE_SUM" ] || die "k8s.io/kubernetes@v$KUBERNETES_VERSION: $sum, pinned $KUBERNETES_MODULE_SUM"
  rm -rf "$src"
  cp -r "$dir" "$src"
  chmod -R u+w "$src"
  # The module zip leaves out the staging modules (nested modules): their published copies.
  local staging=() count=0
  while read -r name _; do
    [ -n "$name" ] && staging+=("$name@$STAGING_VERSION")
  done <<< "$STAGING_SUMS"
  [ "$(sed -n 's#^\t\(k8s.io/[a-z-]*\) => ./staging/src/.*#\1#p' "$src/go.mod" | sort)" \
    = "$(for m in "${staging[@]}"; do echo "${m%@*}"; done | sort)" ] \
    || die "the staging modules replaced in k8s.io/kubernetes' go.mod are not the pinned ones"
  while read -r path dir sum; do
    want=$(awk -v p="$path" '$1 == p {print $2}' <<< "$STAGING_SUMS")
    [ "$sum" = "$want" ] || die "$path@$STAGING_VERSION: $sum, pinned $want"
    mkdir -p "$src/staging/src/$(dirname "$path")"
    cp -r "$dir" "$src/staging/src/$path"
    count=$((count + 1))
  done < <(go_download "${staging[@]}")
  chmod -R u+w "$src/staging"
  say "sources: k8s.io/kubernetes@v$KUBERNETES_VERSION and $count staging modules, checksums as pinned ($((SECONDS - started)) s)"
  mkdir -p "$BIN"
  rm -f "$BIN/.stamp"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags "$ldflags" -o "$BIN/" ./cmd/kube-apiserver ./cmd/kube-controller-manager)
  [ "$("$APISERVER" --version)" = "Kubernetes v$KUBERNETES_VERSION" ] \
    || die "the built kube-apiserver reports '$("$APISERVER" --version)'"
  echo "$stamp" > "$BIN/.stamp"
  rm -rf "$src"
  say "built $("$APISERVER" --version) in $((SECONDS - started)) s ($BIN)"
}

# source_file NAME: a field of deploy/schemas/sources.json's input whose file ends in NAME.
source_input() {
  python3 - "$SOURCES" "$1" "$2" <<'PY'
import json, sys
sources, suffix, field = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
found = [i for i in sources["inputs"] if i["file"].endswith(suffix)]
if len(found) != 1:
    sys.exit(f"k8s: no single input for {suffix} in {sys.argv[1]}")
print(found[0][field])
PY
}

provision_crds() {
  local strimzi keda keda_sum jar file path dir sum want
  strimzi=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["strimziVersion"])' "$SOURCES")
  keda=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["kedaVersion"])' "$SOURCES")
  mkdir -p "$CRDS"
  # Strimzi: the CRDs in io.strimzi:api:<version>:jar:tests from Maven Central.
  jar=$CRDS/api-$strimzi-tests.jar
  want=$(source_input 043-Crd-kafkatopic.yaml package | sed -n 's/.*jar sha256 \([0-9a-f]*\).*/\1/p')
  if [ ! -f "$jar" ] || [ "$(sha256 "$jar")" != "$want" ]; then
    rm -rf "$CRDS/maven"
    command -v mvn >/dev/null 2>&1 || die "Maven is required for the Strimzi CRDs (scripts/bootstrap.sh installs it)"
    if ! (cd "$CRDS" && mvn --batch-mode --quiet --strict-checksums \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
        "-Dartifact=io.strimzi:api:$strimzi:jar:tests" "-DoutputDirectory=$CRDS/maven" \
        > "$CRDS/mvn.log" 2>&1); then
      cat "$CRDS/mvn.log" >&2
      die "mvn could not fetch io.strimzi:api:$strimzi:jar:tests"
    fi
    mv "$CRDS/maven/api-$strimzi-tests.jar" "$jar"
    rm -rf "$CRDS/maven"
  fi
  [ "$(sha256 "$jar")" = "$want" ] || die "$jar: sha256 $(sha256 "$jar"), pinned $want"
  for file in crds/v1beta2/043-Crd-kafkatopic.yaml crds/v1beta2/044-Crd-kafkauser.yaml; do
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
      "$jar" "$file" > "$CRDS/strimzi-$(basename "$file")"
    want=$(source_input "$file" sha256)
    [ "$(sha256 "$CRDS/strimzi-$(basename "$file")")" = "$want" ] || die "$file in $jar: not the sha256 $SOURCES records"
  done
  # KEDA: every CRD of config/crd/bases in the Go module, as KEDA installs them.
  want=$(source_input keda.sh_scaledobjects.yaml package | sed -n 's/.*(\(h1:[^)]*\)).*/\1/p')
  read -r path dir sum < <(go_download "github.com/kedacore/keda/v2@$keda")
  [ "$sum" = "$want" ] || die "$path@$keda: $sum, pinned $want"
  rm -f "$CRDS"/keda-*.yaml
  for file in "$dir"/config/crd/bases/*.yaml; do
    cp "$file" "$CRDS/keda-$(basename "$file")"
  done
  for file in keda.sh_scaledobjects.yaml keda.sh_triggerauthentications.yaml; do
    [ "$(sha256 "$CRDS/keda-$file")" = "$(source_input "$file" sha256)" ] \
      || die "KEDA's $file: not the sha256 $SOURCES records"
  done
  chmod u+w "$CRDS"/*.yaml
  say "CRDs: Strimzi $strimzi KafkaTopic, KafkaUser; KEDA $keda $(ls "$CRDS"/keda-*.yaml | wc -l) CRDs ($CRDS)"
}

provision() {
  mkdir -p "$K8S_TOOLS"
  provision_etcd
  provision_crds
  provision_kube
}

# --- start, stop ---------------------------------------------------------------------------

pid_of() { cat "$STATE/$1.pid" 2> /dev/null || true; }

expected_cmd() {
  case $1 in
    etcd) echo "$ETCD" ;;
    kube-apiserver) echo "$APISERVER" ;;
    kube-controller-manager) echo "$CONTROLLER_MANAGER" ;;
    watchdog) echo "k8s.sh watchdog $STATE" ;;
  esac
}

# alive NAME: the recorded process runs and is still ours (its command line is our binary's,
# or this script's for the watchdog): a recycled pid is never signalled.
alive() {
  local pid command
  pid=$(pid_of "$1")
  [ -n "$pid" ] || return 1
  command=$(tr '\0' ' ' 2> /dev/null < "/proc/$pid/cmdline") || return 1
  [[ $command == *"$(expected_cmd "$1")"* ]]
}

stop() {
  local name pid waited left=()
  for name in watchdog kube-controller-manager kube-apiserver etcd; do
    if alive "$name"; then
      pid=$(pid_of "$name")
      kill -TERM "$pid" 2> /dev/null || true
      waited=0
      while alive "$name" && [ "$waited" -lt 100 ]; do
        sleep 0.2
        waited=$((waited + 1))
      done
      if alive "$name"; then
        say "$name ($pid) did not stop in 20 s: SIGKILL"
        kill -KILL "$pid" 2> /dev/null || true
        sleep 0.5
      fi
      if alive "$name"; then left+=("$name ($pid)"); fi
    fi
    rm -f "$STATE/$name.pid"
  done
  [ ${#left[@]} -eq 0 ] || die "still running: ${left[*]}"
  say "stopped"
}

status() {
  local name code=0
  for name in $COMPONENTS; do
    if alive "$name"; then
      echo "$name: running ($(pid_of "$name"))"
    else
      echo "$name: stopped"
      code=3
    fi
  done
  return $code
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }

# launch NAME COMMAND...: in the background, stdio to STATE/NAME.log, pid in STATE/NAME.pid.
launch() {
  local name=$1
  shift
  "$@" < /dev/null > "$STATE/$name.log" 2>&1 &
  echo $! > "$STATE/$name.pid"
}

start_failed() {
  echo "k8s: start failed: $*" >&2
  stop >&2 || true
  exit 1
}

# wait_for WHAT NAME CHECK...: until CHECK succeeds; fails at once when process NAME has
# died, and after START_TIMEOUT seconds.
wait_for() {
  local what=$1 name=$2 deadline=$((SECONDS + START_TIMEOUT))
  shift 2
  until "$@" > /dev/null 2>&1; do
    if ! alive "$name"; then
      tail -n 20 "$STATE/$name.log" >&2 || true
      start_failed "$name exited while waiting for $what (log: $STATE/$name.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$STATE/$name.log" >&2 || true
      start_failed "$what: not within $START_TIMEOUT s (log: $STATE/$name.log)"
    fi
    sleep 0.5
  done
}

# The token goes to curl from a file (never on a command line, where ps shows it).
api() {
  curl -fsS --max-time 10 --cacert "$STATE/pki/apiserver.crt" -H @"$STATE/auth-header" "$@"
}

etcd_health() {
  curl -fsS --max-time 2 --cacert "$STATE/pki/etcd-ca.crt" --cert "$STATE/pki/etcd-client.crt" \
    --key "$STATE/pki/etcd-client.key" "https://127.0.0.1:$ETCD_CLIENT_PORT/health"
}

# The API server's certificate for 127.0.0.1 (its own CA in the kubeconfig), the service-
# account signing key pair, the admin token (system:masters; RBAC, no anonymous access) and
# etcd's CA, server and client certificates (etcd answers only certificates its own CA
# signed): made with openssl once per state dir, readable by their owner only.
make_pki() {
  local pki=$STATE/pki
  if [ -f "$pki/apiserver.crt" ] && [ -f "$pki/sa.key" ] && [ -f "$pki/tokens.csv" ] \
    && [ -f "$pki/etcd-client.crt" ] && [ -f "$STATE/auth-header" ]; then
    return
  fi
  rm -rf "$pki"
  mkdir -p "$pki"
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=kinship-test-apiserver \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -keyout "$pki/apiserver.key" -out "$pki/apiserver.crt" 2> /dev/null
    openssl genrsa -out "$pki/sa.key" 2048 2> /dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2> /dev/null
    openssl rand -hex 32 > "$STATE/token"
    printf '%s,kinship-test-admin,kinship-test-admin,system:masters\n' "$(cat "$STATE/token")" \
      > "$pki/tokens.csv"
    printf 'Authorization: Bearer %s\n' "$(cat "$STATE/token")" > "$STATE/auth-header"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=kinship-test-etcd-ca \
      -keyout "$pki/etcd-ca.key" -out "$pki/etcd-ca.crt" 2> /dev/null
    local name
    for name in etcd-server etcd-client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=kinship-test-$name" \
        -keyout "$pki/$name.key" -out "$pki/$name.csr" 2> /dev/null
      openssl x509 -req -in "$pki/$name.csr" -CA "$pki/etcd-ca.crt" -CAkey "$pki/etcd-ca.key" \
        -CAcreateserial -days 3650 -out "$pki/$name.crt" \
        -extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n') \
        2> /dev/null
    done
  )
}

write_kubeconfig() {
  local ca
  ca=$(base64 -w0 < "$STATE/pki/apiserver.crt")
  (
    umask 077
    cat > "$KUBECONFIG_FILE" << EOF
apiVersion: v1
kind: Config
clusters:
  - name: kinship-test
    cluster:
      server: $SERVER
      certificate-authority-data: $ca
users:
  - name: kinship-test-admin
    user:
      token: $(cat "$STATE/token")
contexts:
  - name: kinship-test
    context: {cluster: kinship-test, user: kinship-test-admin}
current-context: kinship-test
EOF
  )
}

crd_established() {
  api "$SERVER/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$1" | python3 -c '
import json, sys
conditions = json.load(sys.stdin).get("status", {}).get("conditions", [])
sys.exit(0 if any(c["type"] == "Established" and c["status"] == "True" for c in conditions) else 1)'
}

register_crds() {
  local file name out names=()
  for file in "$CRDS"/strimzi-*.yaml "$CRDS"/keda-*.yaml; do
    # The API server reads YAML; each CRD file holds one document.
    name=$(python3 -c '
import re, sys
print(re.search(r"^metadata:\n(?:  .*\n)*?  name: (\S+)", open(sys.argv[1]).read(), re.M).group(1))' "$file")
    if ! out=$(api -X POST -H 'Content-Type: application/yaml' --data-binary "@$file" \
        "$SERVER/apis/apiextensions.k8s.io/v1/customresourcedefinitions" 2>&1); then
      start_failed "registering the CRD $name ($file): $out"
    fi
    names+=("$name")
  done
  for name in "${names[@]}"; do
    wait_for "the CRD $name Established" kube-apiserver crd_established "$name"
  done
  say "CRDs Established: ${names[*]}"
}

start() {
  local owner=""
  if [ "${1:-}" = --owner-pid ]; then
    owner=${2:?--owner-pid needs a pid}
  fi
  if ! [ -x "$ETCD" ] || ! [ -x "$APISERVER" ] || ! [ -x "$CONTROLLER_MANAGER" ] \
      || ! [ -f "$BIN/.stamp" ] || ! [ -f "$CRDS/strimzi-043-Crd-kafkatopic.yaml" ]; then
    die "not provisioned: run 'bash scripts/k8s.sh provision' first (make k8s does)"
  fi
  local started=$SECONDS name port
  for name in watchdog $COMPONENTS; do
    if alive "$name"; then
      say "a previous run's $name ($(pid_of "$name")) is still running: stopping it"
      stop
      break
    fi
  done
  for port in $ETCD_CLIENT_PORT $ETCD_PEER_PORT $APISERVER_PORT; do
    port_free "$port" || die "127.0.0.1:$port is in use by another process"
  done
  make_pki
  rm -rf "$STATE/etcd-data"
  local pki=$STATE/pki
  launch etcd "$ETCD" --name kinship-test --data-dir "$STATE/etcd-data" \
    --listen-client-urls "https://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "https://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "https://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "kinship-test=https://127.0.0.1:$ETCD_PEER_PORT" \
    --cert-file "$pki/etcd-server.crt" --key-file "$pki/etcd-server.key" \
    --client-cert-auth --trusted-ca-file "$pki/etcd-ca.crt" \
    --peer-cert-file "$pki/etcd-server.crt" --peer-key-file "$pki/etcd-server.key" \
    --peer-client-cert-auth --peer-trusted-ca-file "$pki/etcd-ca.crt" \
    --unsafe-no-fsync
  wait_for "etcd's /health" etcd etcd_health
  # shellcheck disable=SC2086 # KINSHIP_K8S_APISERVER_FLAGS: words
  launch kube-apiserver "$APISERVER" \
    --etcd-servers "https://127.0.0.1:$ETCD_CLIENT_PORT" --etcd-cafile "$pki/etcd-ca.crt" \
    --etcd-certfile "$pki/etcd-client.crt" --etcd-keyfile "$pki/etcd-client.key" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$STATE/pki/apiserver.crt" --tls-private-key-file "$STATE/pki/apiserver.key" \
    --token-auth-file "$STATE/pki/tokens.csv" --anonymous-auth=false \
    --authorization-mode RBAC \
    --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --endpoint-reconciler-type none --profiling=false \
    ${KINSHIP_K8S_APISERVER_FLAGS:-} # more flags (tests break the start with them; or --v=4)
  wait_for "the API server's /readyz" kube-apiserver api "$SERVER/readyz"
  write_kubeconfig
  # serviceaccount and namespace: namespaces get their default ServiceAccount and are emptied
  # when deleted; root-ca-cert-publisher: each namespace's kube-root-ca.crt ConfigMap, as a
  # real cluster has.
  launch kube-controller-manager "$CONTROLLER_MANAGER" --kubeconfig "$KUBECONFIG_FILE" \
    --controllers serviceaccount,namespace,root-ca-cert-publisher \
    --root-ca-file "$STATE/pki/apiserver.crt" \
    --leader-elect=false --secure-port 0 --profiling=false
  wait_for "the default ServiceAccount" kube-controller-manager \
    api "$SERVER/api/v1/namespaces/default/serviceaccounts/default"
  wait_for "the kube-root-ca.crt ConfigMap" kube-controller-manager \
    api "$SERVER/api/v1/namespaces/default/configmaps/kube-root-ca.crt"
  register_crds
  if [ -n "$owner" ]; then
    launch watchdog bash "$0" watchdog "$STATE" "$owner"
  fi
  say "$("$APISERVER" --version) on $SERVER in $((SECONDS - started)) s; KUBECONFIG=$KUBECONFIG_FILE"
}

# watchdog STATE OWNER: stops everything once the OWNER process has gone (even SIGKILLed).
watchdog() {
  local owner=$2
  while kill -0 "$owner" 2> /dev/null; do sleep 2; done
  rm -f "$STATE/watchdog.pid" # stop() must not signal this very process
  stop
}

case "${1:-}" in
  provision) provision ;;
  start)
    shift
    start "$@"
    ;;
  stop) stop ;;
  status) status ;;
  watchdog)
    shift
    watchdog "$@"
    ;;
  run)
    shift
    [ $# -gt 0 ] || die "usage: scripts/k8s.sh run CMD..."
    trap 'stop' EXIT
    start
    KUBECONFIG=$KUBECONFIG_FILE "$@"
    ;;
  *) die "usage: scripts/k8s.sh provision|start [--owner-pid PID]|stop|status|run CMD..." ;;
esac
