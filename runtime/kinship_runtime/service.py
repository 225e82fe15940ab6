"""The command line every service shares: ``python -m kinship_<service> [serve|migrate]``."""

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from kinship_runtime.database import apply_migrations, create_pool
from kinship_runtime.settings import KinshipSettings
from kinship_runtime.telemetry import configure_logging, configure_tracing

S = TypeVar("S", bound=KinshipSettings)


async def migrate(settings: KinshipSettings, migrations: Path) -> list[str]:
    """Apply the service's pending migrations to its schema."""
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as conn:
            return await apply_migrations(conn, settings.owned_schema(), migrations)
    finally:
        await pool.close()


def run_service(
    prog: str,
    settings_type: type[S],
    create_app: Callable[[S], FastAPI],
    migrations: Path,
    argv: list[str] | None = None,
) -> int:
    """Serve the HTTP API and consumers (default), or apply migrations and exit."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    settings = settings_type()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "migrate":
        for name in asyncio.run(migrate(settings, migrations)):
            print(f"applied {name}")
        return 0
    configure_tracing(settings.service_name)
    # uvicorn turns SIGTERM into a graceful shutdown: the lifespan stops consumers after
    # their in-flight batch is stored and committed.
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
    )
    return 0
