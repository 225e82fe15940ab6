"""``python -m kinship_console [serve|migrate]``."""

import argparse
import asyncio
import json
import logging
import sys

import uvicorn

from kinship_console.bootstrap import create_app, migrate
from kinship_console.settings import ConsoleSettings, DatabaseSettings


class _JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's extras."""

    _plain = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": "console",
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in self._plain})
        return json.dumps(entry, default=str)


def _configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # httpx logs every request's URL at INFO; Authlib's token calls must never reach a log.
    for name in ("httpx", "httpcore", "authlib"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kinship_console")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    if args.command == "migrate":
        database = DatabaseSettings()
        _configure_logging(database.log_level)
        for name in asyncio.run(migrate(database)):
            print(f"applied {name}")
        return 0
    settings = ConsoleSettings()
    _configure_logging(settings.log_level)
    # No uvicorn access log: it prints query strings, and a callback's holds the code.
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
