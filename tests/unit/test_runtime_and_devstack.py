"""Runtime ingestion (validation reasons, id checks), and the dev stack's pure helpers."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kinship_contracts.checkins import CheckinSubmitted
from kinship_devstack.services import available_services, parse_replicas
from kinship_devstack.stack import StackConfig, StackError, render_server_properties
from kinship_runtime.ingestion import parse_directory, parse_records
from kinship_runtime.settings import KinshipSettings

PLANTED = "SECRET-NOTE-123"


@dataclass
class FakeRecord:
    value: bytes | None
    key: bytes | None = b"k"
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "wellbeing.checkins.submitted"
    partition: int = 0
    offset: int = 0


def payload(**fields: object) -> bytes:
    body = {
        "id": "c-1",
        "person_id": "p-1",
        "occurred_at": "2026-11-24T09:00:00+00:00",
        "source": "tests",
        "mood": 3,
        **fields,
    }
    return json.dumps(body).encode()


def test_valid_and_invalid_records_are_split_with_reasons_but_no_values() -> None:
    records = [
        FakeRecord(payload()),
        FakeRecord(payload(mood=9, note=PLANTED)),
        FakeRecord(b"{not json"),
        FakeRecord(None),
    ]
    accepted, rejected = parse_records(records, CheckinSubmitted)
    assert [a.event.id for a in accepted] == ["c-1"]
    assert [r.reason["code"] for r in rejected] == [
        "validation_failed",
        "validation_failed",
        "empty_value",
    ]
    assert rejected[0].reason["errors"][0]["loc"] == ["mood"]
    assert PLANTED not in json.dumps([r.reason for r in rejected])
    assert "9" not in json.dumps(rejected[0].reason["errors"][0].get("input", ""))


def test_ce_id_header_must_match_the_payload_id() -> None:
    accepted, rejected = parse_records(
        [FakeRecord(payload(), headers=[("ce_id", b"other")])], CheckinSubmitted
    )
    assert accepted == []
    assert rejected[0].reason["code"] == "id_mismatch"
    accepted, _ = parse_records(
        [FakeRecord(payload(), headers=[("ce_id", b"c-1")])], CheckinSubmitted
    )
    assert len(accepted) == 1


def test_directory_records_removals_and_key_mismatches() -> None:
    person = {
        "person_id": "p-1",
        "display_name": "P",
        "team_id": "t",
        "timezone": "UTC",
        "roles": [],
        "channels": {},
        "active": True,
    }
    changes, rejected = parse_directory(
        [
            FakeRecord(json.dumps(person).encode(), key=b"p-1"),
            FakeRecord(None, key=b"p-2"),
            FakeRecord(json.dumps(person).encode(), key=b"p-3"),
            FakeRecord(b"{}", key=None),
        ]
    )
    assert [(c.person_id, c.person is None) for c in changes] == [("p-1", False), ("p-2", True)]
    assert [r.reason["code"] for r in rejected] == ["key_mismatch", "missing_key"]


def test_kafka_config_is_a_single_kraft_node_on_loopback(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path, kafka_port=19092, postgres_port=15432)
    text = render_server_properties(config, tmp_path / "data")
    assert "process.roles=broker,controller" in text
    assert "PLAINTEXT://127.0.0.1:19092" in text
    assert f"log.dirs={tmp_path / 'data'}" in text


def test_replica_counts_are_parsed_and_checked() -> None:
    assert parse_replicas("checkin=2, escalation=1") == {"checkin": 2, "escalation": 1}
    with pytest.raises(StackError, match="expected"):
        parse_replicas("checkin=0")
    with pytest.raises(StackError):
        parse_replicas("unknown=2")
    specs = available_services("checkin=2")
    checkins = [s for s in specs if s.name == "checkin"]
    assert [(s.instance, s.port) for s in checkins] == [("checkin", 8001), ("checkin-1", 8101)]


def test_settings_errors_never_echo_the_configured_value(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from kinship_escalation.settings import EscalationSettings

    monkeypatch.setenv("KINSHIP_PSEUDONYM_KEY", "too-short-secret-value")
    with pytest.raises(ValidationError) as error:
        EscalationSettings()
    assert "32 bytes" in str(error.value)
    assert "too-short-secret-value" not in str(error.value)


def test_migrate_needs_only_the_database_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from kinship_recognition.settings import RecognitionSettings
    from kinship_runtime import service

    seen: list[KinshipSettings] = []

    async def fake_migrate(settings: KinshipSettings, migrations: Path) -> list[str]:
        seen.append(settings)
        return []

    monkeypatch.delenv("KINSHIP_PSEUDONYM_KEY", raising=False)  # the service would need it
    monkeypatch.setenv("KINSHIP_DATABASE_SCHEMA", "recognition_x")
    monkeypatch.setattr(service, "migrate", fake_migrate)

    def never(_settings: RecognitionSettings) -> Any:
        raise AssertionError("migrate builds no app")

    assert service.run_service("t", RecognitionSettings, never, tmp_path, ["migrate"]) == 0
    assert [(s.service_name, s.owned_schema()) for s in seen] == [("recognition", "recognition_x")]
