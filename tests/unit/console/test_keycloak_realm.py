"""The demo realm and the Keycloak module's pure parts (the real Keycloak runs in tests/browser)."""

import json
import re
from pathlib import Path

import pytest

from kinship_devstack import demo
from kinship_devstack.keycloak import (
    DEMO_PASSWORD,
    REALM_FILE,
    Keycloak,
    KeycloakConfig,
    console_environment,
    java_major,
    newest_java,
    realm_public_key_pem,
)
from kinship_devstack.stack import StackError

REALM = json.loads(REALM_FILE.read_text())
(CLIENT,) = REALM["clients"]


def test_the_console_client_is_confidential_with_pkce_and_the_code_flow_only() -> None:
    assert CLIENT["clientId"] == "kinship-console"
    assert CLIENT["publicClient"] is False
    assert CLIENT["attributes"]["pkce.code.challenge.method"] == "S256"
    assert CLIENT["standardFlowEnabled"] is True
    assert CLIENT["implicitFlowEnabled"] is False
    assert CLIENT["directAccessGrantsEnabled"] is False
    assert CLIENT["serviceAccountsEnabled"] is False


def test_redirects_stay_on_loopback() -> None:
    uris = [*CLIENT["redirectUris"], CLIENT["attributes"]["post.logout.redirect.uris"]]
    for uri in uris:
        default = re.search(r"\$\{KINSHIP_CONSOLE_URL:([^}]+)\}", uri)
        assert default is not None, "the console URL is set per stack, loopback by default"
        assert default.group(1).startswith("http://127.0.0.1:")
        assert "*" not in uri
    assert CLIENT["webOrigins"] == []


def test_tokens_carry_person_id_and_audience_but_no_roles() -> None:
    mappers = {mapper["name"]: mapper for mapper in CLIENT["protocolMappers"]}
    person = mappers["person_id"]["config"]
    assert person["user.attribute"] == person["claim.name"] == "person_id"
    assert person["access.token.claim"] == person["id.token.claim"] == "true"
    assert mappers["kinship-audience"]["config"]["included.custom.audience"] == "kinship"
    assert CLIENT["defaultClientScopes"] == ["basic"]  # no "roles" scope
    assert CLIENT["optionalClientScopes"] == []
    assert CLIENT["fullScopeAllowed"] is False
    assert REALM["accessTokenLifespan"] == 300


def test_people_cannot_edit_their_own_person_id() -> None:
    config = REALM["components"]["org.keycloak.userprofile.UserProfileProvider"][0]["config"]
    profile = json.loads(config["kc.user.profile.config"][0])
    (attribute,) = [a for a in profile["attributes"] if a["name"] == "person_id"]
    assert attribute["permissions"]["edit"] == ["admin"]


def test_every_demo_staff_member_and_stable_employee_can_sign_in() -> None:
    users = {user["username"]: user for user in REALM["users"]}
    stable_employees = {person for person, _team in demo.TEAM if "-" not in person}
    staff = {name for name, _team, _roles, _channel in demo.STAFF}
    assert stable_employees | staff <= set(users)
    assert {"mia", "theo"} <= set(users), "team managers"
    for username, user in users.items():
        assert user["attributes"]["person_id"] == [username]
        assert user["enabled"] and user["emailVerified"] and not user["requiredActions"]
        assert user["email"].endswith("@example.org")
        (credential,) = user["credentials"]
        assert credential == {"type": "password", "value": DEMO_PASSWORD, "temporary": False}


def test_public_key_becomes_pem() -> None:
    der = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "A" * 300
    pem = realm_public_key_pem({"public_key": der})
    lines = pem.strip().splitlines()
    assert lines[0] == "-----BEGIN PUBLIC KEY-----" and lines[-1] == "-----END PUBLIC KEY-----"
    assert all(len(line) <= 64 for line in lines[1:-1])
    assert "".join(lines[1:-1]) == der
    with pytest.raises(ValueError):
        realm_public_key_pem({"public_key": "not base64!"})


def test_java_versions_are_read_and_the_newest_working_one_is_chosen(tmp_path: Path) -> None:
    def fake_java(home: Path, version_line: str, code: int = 0) -> None:
        (home / "bin").mkdir(parents=True)
        script = home / "bin" / "java"
        script.write_text(f"#!/bin/sh\necho '{version_line}' >&2\nexit {code}\n")
        script.chmod(0o755)

    fake_java(tmp_path / "j8", 'openjdk version "1.8.0_392"')
    fake_java(tmp_path / "j21", 'openjdk version "21.0.4" 2024-07-16')
    fake_java(tmp_path / "j25", 'openjdk version "25.0.3" 2026-04-21 LTS', code=1)
    assert java_major(str(tmp_path / "j8" / "bin" / "java")) == 8
    assert java_major(str(tmp_path / "j21" / "bin" / "java")) == 21
    assert java_major(str(tmp_path / "j25" / "bin" / "java")) is None  # does not run
    assert java_major(str(tmp_path / "missing")) is None
    homes = [tmp_path / name for name in ("j8", "j25", "j21")]
    assert newest_java(homes) == (tmp_path / "j21").resolve()
    with pytest.raises(StackError, match="Java 17"):
        newest_java([tmp_path / "j8", tmp_path / "j25"])
    machine = newest_java()  # this machine's choice runs and is 17 or later
    major = java_major(str(machine / "bin" / "java"))
    assert major is not None and major >= 17


def test_a_taken_port_is_reported_not_fought_over(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        keycloak = Keycloak(KeycloakConfig(state_dir=tmp_path, http_port=port))
        with pytest.raises(StackError, match=f"port {port}"):
            keycloak.launch()


def test_the_local_console_gets_development_settings(tmp_path: Path) -> None:
    keycloak = Keycloak(KeycloakConfig(state_dir=tmp_path))
    env = console_environment(keycloak)
    assert env["KINSHIP_ENV"] == "dev"
    assert env["KINSHIP_CONSOLE_OIDC_ISSUER"] == "http://127.0.0.1:8180/realms/kinship"
    assert env["KINSHIP_CONSOLE_PUBLIC_URL"] == "http://127.0.0.1:8005"


def test_a_kept_seed_belongs_to_one_realm_configuration(tmp_path: Path) -> None:
    def seed(**config: str) -> Path:
        return Keycloak(KeycloakConfig(state_dir=tmp_path, **config)).seed  # type: ignore[arg-type]

    assert seed() == seed()
    assert seed(console_url="http://127.0.0.1:28005") != seed()
    assert seed(console_client_secret="another") != seed()
    edited = tmp_path / "realm.json"
    edited.write_text(REALM_FILE.read_text().replace("Demo", "Changed"))
    assert seed(realm_file=edited) != seed()  # type: ignore[arg-type]
