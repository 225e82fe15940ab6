"""``python -m kinship_checkin [serve|migrate]``."""

import argparse
import asyncio
import sys

import uvicorn

from kinship_checkin.bootstrap import MIGRATIONS, create_app
from kinship_checkin.settings import CheckinSettings
from kinship_runtime.database import apply_migrations, create_pool
from kinship_runtime.telemetry import configure_logging, configure_tracing


async def _migrate(settings: CheckinSettings) -> None:
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as conn:
            for name in await apply_migrations(conn, settings.owned_schema(), MIGRATIONS):
                print(f"applied {name}")
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    """Serve the HTTP API and consumers (default), or apply migrations and exit."""
    parser = argparse.ArgumentParser(prog="python -m kinship_checkin")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    settings = CheckinSettings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
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


if __name__ == "__main__":
    sys.exit(main())
