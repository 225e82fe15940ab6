"""What a PostgreSQL restart raises under load is transient (reproduced against the test
stack: 5 fast shutdowns under 8 busy connections gave each of these)."""

import asyncpg
import pytest

from kinship_runtime.resilience import is_transient


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
        asyncpg.exceptions.InterfaceError(
            "cannot call Transaction.__aexit__(): the underlying connection is closed"
        ),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        ),
        ConnectionResetError(104, "Connection reset by peer"),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
)
def test_what_a_postgres_restart_raises_is_transient(error: Exception) -> None:
    assert is_transient(error)


def test_a_value_the_database_refuses_is_not() -> None:
    assert not is_transient(asyncpg.exceptions.CharacterNotInRepertoireError("0x00"))
    assert not is_transient(asyncpg.exceptions.DataError("date out of range"))
