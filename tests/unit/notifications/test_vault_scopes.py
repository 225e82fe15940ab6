"""Each service's vault key with exactly the scopes the chart documents and generates
(``deploy/helm/kinship/files/registry.json``), against the check-in service's real routes: a
person's own data download works, and a key without a scope it needs is a clear 503."""

import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from dishka import make_async_container, provide
from dishka.integrations.fastapi import setup_dishka
from pydantic import SecretStr

from kinship_checkin.entrypoints.http import checkin_router
from kinship_notifications.handlers.ports import SubjectLookup
from kinship_runtime.identity import IdentityVerifier
from kinship_runtime.vault import VaultClient
from tests.kafka_reading import checkin
from tests.unit.checkin.test_http import AUTH
from tests.unit.checkin.test_http import Fakes as CheckinFakes
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork
from tests.unit.fakes.http import bearer, identities, routes_client
from tests.unit.fakes.notifications import FakeNotificationsUnitOfWork
from tests.unit.fakes.relay import FakeRelay
from tests.unit.notifications.test_http import Fakes as NotificationsFakes
from tests.unit.notifications.test_http import routes_app

REGISTRY = Path(__file__).parents[3] / "deploy" / "helm" / "kinship" / "files" / "registry.json"


def documented_scopes(service: str) -> list[str]:
    scopes: list[str] = json.loads(REGISTRY.read_text())["services"][service]["vaultScopes"]
    return scopes


class Checkin(CheckinFakes):
    """The check-in service with the survey key and one service's vault key."""

    def __init__(self, uow: FakeCheckinUnitOfWork, scopes: Sequence[str]) -> None:
        super().__init__(uow, FakeRelay())
        self.scopes = list(scopes)

    @provide
    def identity_verifier(self) -> IdentityVerifier:
        return identities(
            [
                {"name": "survey", "scopes": ["checkins:submit"], "key": "unit-key"},
                {"name": "service", "scopes": self.scopes, "key": "service-vault-key"},
            ]
        )


class Notifications(NotificationsFakes):
    """The notifications service whose vault is the real client of ``checkin``."""

    def __init__(self, vault: VaultClient) -> None:
        super().__init__(FakeNotificationsUnitOfWork())
        self.client = vault

    @provide
    def vault(self) -> SubjectLookup:
        return self.client


async def _my_data(scopes: Sequence[str]) -> httpx.Response:
    uow = FakeCheckinUnitOfWork()
    async with routes_client("checkin", checkin_router(), Checkin(uow, scopes)) as checkin_http:
        await checkin_http.post("/v1/checkins", json=checkin("c-1", person="ann"), headers=AUTH)
        assert "ann" in uow.vault
        vault = VaultClient(
            "http://checkin", SecretStr("service-vault-key"), transport=checkin_http._transport
        )
        app = routes_app()
        container = make_async_container(Notifications(vault))
        setup_dishka(container, app)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://n") as http:
                return await http.get("/v1/me/data", headers=bearer("ann"))
        finally:
            await container.close()
            await vault.aclose()


async def test_my_data_works_with_the_documented_scopes_of_notifications_key() -> None:
    answer = await _my_data(documented_scopes("notifications"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == "ann"


async def test_a_vault_key_without_a_scope_it_needs_is_a_clear_503_not_a_500() -> None:
    without_lookup = [s for s in documented_scopes("notifications") if s != "subjects:lookup"]
    answer = await _my_data(without_lookup)
    assert answer.status_code == 503
    assert "vault" in answer.json()["detail"] and "subj" not in answer.text


@pytest.mark.parametrize("service", ["escalation", "notifications", "recognition"])
async def test_every_service_key_may_look_up_a_persons_own_subject(service: str) -> None:
    """Every service's /v1/me/data asks the vault for the person's own subject id
    (``create=False``); the documented scopes of every key allow it."""
    uow = FakeCheckinUnitOfWork()
    scopes = documented_scopes(service)
    async with routes_client("checkin", checkin_router(), Checkin(uow, scopes)) as checkin_http:
        await checkin_http.post("/v1/checkins", json=checkin("c-1", person="ann"), headers=AUTH)
        vault = VaultClient(
            "http://checkin", SecretStr("service-vault-key"), transport=checkin_http._transport
        )
        found = await vault.subjects(["ann", "nobody"], create=False, purpose="my_data")
        await vault.aclose()
    assert found == {"ann": uow.vault["ann"]}
