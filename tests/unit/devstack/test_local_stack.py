"""The dev stack's pure helpers: Kafka configuration, pid files, ports, paths, replicas."""

import importlib
import os
import re
import socket
from pathlib import Path

import pytest

from kinship_devstack.services import LANE_SETTINGS, available_services, parse_replicas
from kinship_devstack.stack import (
    LocalStack,
    StackConfig,
    StackError,
    default_cache_dir,
    pid_alive,
    port_open,
    render_server_properties,
    repo_root,
    stop_pid,
    tail,
)
from kinship_runtime.composition import running_subscriptions
from kinship_runtime.settings import KinshipSettings


def properties(text: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in text.splitlines() if line]
    assert all(len(pair) == 2 for pair in pairs), "every line is key=value"
    result = dict((key, value) for key, value in pairs)
    assert len(result) == len(pairs), "no key is set twice"
    return result


def test_server_properties_use_the_configured_port_and_the_next_as_controller(
    tmp_path: Path,
) -> None:
    config = StackConfig(state_dir=tmp_path, kafka_port=29192)
    props = properties(render_server_properties(config, tmp_path / "data"))
    assert config.controller_port == 29193
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29192,CONTROLLER://127.0.0.1:29193"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29192"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29193"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"


def test_server_properties_describe_one_combined_kraft_node(tmp_path: Path) -> None:
    props = properties(render_server_properties(StackConfig(state_dir=tmp_path), tmp_path / "d"))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["log.dirs"] == str(tmp_path / "d")
    for name in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[name] == "1", name


def test_server_properties_listen_on_loopback_only(tmp_path: Path) -> None:
    text = render_server_properties(StackConfig(state_dir=tmp_path), tmp_path)
    hosts = re.findall(r"(?:://|servers=)([^:,\s]+):\d+", text)
    assert len(hosts) == 4
    assert set(hosts) == {"127.0.0.1"}
    assert text.endswith("\n")


def test_the_stack_defaults_are_the_specs_local_ports(tmp_path: Path) -> None:
    stack = LocalStack(StackConfig(state_dir=tmp_path))
    assert stack.bootstrap_servers == "127.0.0.1:19092"
    assert stack.database_url == "postgresql://postgres@127.0.0.1:15432/postgres"
    assert stack.url_for("kinship") == "postgresql://postgres@127.0.0.1:15432/kinship"


def test_pid_alive_is_none_without_a_pid_file(tmp_path: Path) -> None:
    assert pid_alive(tmp_path / "missing.pid") is None


@pytest.mark.parametrize("content", ["", "not-a-pid", "12.5"])
def test_pid_alive_is_none_for_a_garbled_pid_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "x.pid"
    path.write_text(content)
    assert pid_alive(path) is None


def test_pid_alive_returns_a_running_pid(tmp_path: Path) -> None:
    path = tmp_path / "self.pid"
    path.write_text(f"{os.getpid()}\n")
    assert pid_alive(path) == os.getpid()


def test_pid_alive_is_none_for_a_pid_no_process_has(tmp_path: Path) -> None:
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    path = tmp_path / "gone.pid"
    path.write_text(str(pid_max + 1))
    assert pid_alive(path) is None


@pytest.mark.parametrize("content", ["0", "-1"])
def test_a_pid_file_holding_zero_or_a_negative_number_is_not_a_live_process(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "bad.pid"
    path.write_text(content)
    assert pid_alive(path) is None  # signal 0 only probes; nothing is sent


def test_stop_pid_without_a_process_just_removes_a_stale_pid_file(tmp_path: Path) -> None:
    path = tmp_path / "stale.pid"
    path.write_text("not-a-pid")
    stop_pid(path, timeout=0.1)
    assert not path.exists()
    stop_pid(tmp_path / "never.pid", timeout=0.1)  # harmless without a file


def test_port_open_sees_a_listening_loopback_socket() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_open(port)


def test_port_open_is_false_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused
        assert not port_open(port)


def test_tail_returns_the_last_lines_or_says_there_is_no_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    assert tail(log) == "(no log)"
    log.write_text("\n".join(f"line {n}" for n in range(100)) + "\n")
    assert tail(log, lines=3) == "line 97\nline 98\nline 99"


def test_tail_survives_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_bytes(b"ok\n\xff\xfe broken\n")
    assert tail(log).startswith("ok\n")


def test_repo_root_is_the_nearest_parent_with_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert repo_root() == tmp_path.resolve()


def test_the_cache_dir_follows_kinship_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINSHIP_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("KINSHIP_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "kinship"


def test_replica_counts_are_parsed_and_checked() -> None:
    assert parse_replicas("checkin=2, escalation=1") == {"checkin": 2, "escalation": 1}
    with pytest.raises(StackError, match="expected"):
        parse_replicas("checkin=0")
    with pytest.raises(StackError):
        parse_replicas("unknown=2")
    specs = available_services("checkin=2,checkin-ingest=3")
    checkins = [s for s in specs if s.name == "checkin"]
    # The API and the ingest deployment scale each by its own name.
    assert [(s.instance, s.port) for s in checkins] == [
        ("checkin", 8001),
        ("checkin-1", 8101),
        ("checkin-ingest", 8007),
        ("checkin-ingest-1", 8107),
        ("checkin-ingest-2", 8207),
    ]


def test_bulk_and_urgent_work_run_in_processes_of_their_own() -> None:
    specs = {
        spec.instance: {**LANE_SETTINGS, **dict(spec.settings)} for spec in available_services()
    }
    excluded = {name: settings["KINSHIP_EXCLUDED_CONSUMERS"] for name, settings in specs.items()}
    assert excluded["checkin"] == "submissions" and excluded["escalation"] == "urgent"
    assert excluded["escalation-urgent"] == "checkins"
    assert specs["escalation-urgent"]["KINSHIP_OUTBOX_RELAY_LEADS"] == "false"


@pytest.mark.parametrize("service", ["checkin", "escalation", "notifications", "recognition"])
def test_every_consumer_runs_in_some_process_and_one_may_lead_the_relay(service: str) -> None:
    specs = [spec for spec in available_services() if spec.name == service]
    consumers = importlib.import_module(f"{specs[0].module}.entrypoints.consumers")
    if hasattr(consumers, "SUBSCRIPTIONS"):
        declared = consumers.SUBSCRIPTIONS
    else:  # notifications: its subscriptions check request signatures with a key
        declared = consumers.subscriptions(consumers.RequestSignatures(b"k" * 32))
    everything = {subscription.purpose for subscription in declared}
    running: set[str] = set()
    leaders = 0
    for spec in specs:
        lanes = {**LANE_SETTINGS, **dict(spec.settings)}
        settings = KinshipSettings(
            env="dev",
            excluded_consumers=lanes["KINSHIP_EXCLUDED_CONSUMERS"],
            outbox_relay_leads=lanes["KINSHIP_OUTBOX_RELAY_LEADS"] == "true",
        )
        subscriptions = running_subscriptions(declared, settings.excluded())
        running |= {subscription.purpose for subscription in subscriptions}
        leaders += settings.outbox_relay_leads
    assert running == everything
    assert leaders >= 1
