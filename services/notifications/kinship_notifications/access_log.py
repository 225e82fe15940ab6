"""The HTTP access log without personal data: no query string, no client address, no path
parameter.

uvicorn's access log prints ``<client> - "GET /v1/preferences/<person id>?<query> HTTP/1.1"
200``: a person's id, their address, and whatever a query string carries (a token). This
filter rewrites each record to ``GET /v1/preferences/… 200``: the first two path segments
only. (The runtime should log route templates instead, for every service; until then this
service installs the filter itself.)
"""

import logging

ACCESS_LOGGER = "uvicorn.access"


def redacted_path(path: str) -> str:
    """``/v1/preferences/ann?token=x`` as ``/v1/preferences/…``."""
    bare = path.split("?", 1)[0]
    segments = bare.strip("/").split("/")
    kept = "/" + "/".join(segments[:2])
    return kept + "/…" if len(segments) > 2 else kept


class RedactedAccessLog(logging.Filter):
    """Rewrites uvicorn access records (``client, method, path, version, status``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, path, version, status = args
            record.msg = '"%s %s HTTP/%s" %d'
            record.args = (method, redacted_path(str(path)), version, status)
        return True


def install() -> None:
    """Filter this process's access log (idempotent)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactedAccessLog) for existing in logger.filters):
        logger.addFilter(RedactedAccessLog())
