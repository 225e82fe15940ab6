# Kinship: the two commands are `make run` (the platform with a demo) and `make test` (everything).
.PHONY: bootstrap up down run demo status test lint typecheck contracts catalogue containers helm k8s unit integration bench

UV ?= uv

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	@$(UV) run kinship-dev up

down:
	@$(UV) run kinship-dev down

status:
	@$(UV) run kinship-dev status

demo:
	@$(UV) run python -m kinship_devstack.demo

run: up demo

lint:
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck:
	$(UV) run mypy contracts/kinship_contracts runtime/kinship_runtime devstack/kinship_devstack services/checkin/kinship_checkin services/escalation/kinship_escalation services/notifications/kinship_notifications services/recognition/kinship_recognition services/console/kinship_console tests deploy/helm/generate.py deploy/helm/verify_rendered.py deploy/schemas/vendor.py bench/soak.py bench/pipeline.py bench/backfill.py bench/checkin_throughput.py bench/alert_latency.py

# Published schemas only grow compatibly; the event catalogue (AsyncAPI per service, merged
# with the contracts) matches the code.
contracts:
	$(UV) run python -m kinship_contracts.schemas check
	$(UV) run python -m kinship_devstack.catalogue --check

catalogue:
	$(UV) run python -m kinship_contracts.schemas export
	$(UV) run python -m kinship_devstack.catalogue

# Dockerfiles (BuildKit's linter plus our image policy) and the Compose file (the Compose
# Specification schema plus our rules), statically: no Docker engine is needed.
containers:
	@bash scripts/check-containers.sh

# The Helm chart: topics and ACLs match the code, helm lint/template, and every rendered
# manifest validated against the Kubernetes, Strimzi and KEDA schemas kept in deploy/schemas.
helm:
	@bash scripts/check-helm.sh

# The chart installed, upgraded and uninstalled on a real Kubernetes API server (etcd,
# kube-apiserver and kube-controller-manager on 127.0.0.1, no kubelet; docs/kubernetes.md).
# The first run builds the API server from the Go module proxy (minutes); tests/k8s starts it
# and always stops it (also when pytest dies: the script's watchdog). Needs helm (make helm).
k8s: bootstrap helm
	@bash scripts/k8s.sh provision
	$(UV) run pytest tests/k8s -q -p no:cacheprovider

unit: bootstrap
	$(UV) run pytest tests/unit -q

integration: bootstrap
	$(UV) run pytest tests/integration tests/e2e -q

# The whole suite: static checks, contract compatibility, the chart on a real API server, unit,
# integration and e2e tests. Integration tests start their own Kafka and PostgreSQL on test
# ports (see tests/conftest.py).
test: bootstrap lint typecheck contracts containers helm k8s
	$(UV) run pytest -q -p no:cacheprovider --ignore=tests/k8s

bench: bootstrap
	$(UV) run python bench/checkin_throughput.py
