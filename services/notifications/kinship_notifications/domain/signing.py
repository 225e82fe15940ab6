"""Webhook signatures: a secret per endpoint, and the signature over the body.

Every endpoint has its own signing secret, derived from ``KINSHIP_WEBHOOK_SECRET`` and the
endpoint's URL with HMAC-SHA256: one receiver's secret cannot sign (or verify) another's
messages, and the operator hands each receiver only its own
(``python -m kinship_notifications endpoint-secret <url>``). The body carries ``sent_at``
and ``delivery_id`` under the signature (``X-Kinship-Signature: sha256=<hex HMAC of the
body>``), so a receiver refuses old bodies (replays) and drops repeats.

``KINSHIP_WEBHOOK_SIGNING=shared`` signs every body with ``KINSHIP_WEBHOOK_SECRET`` itself
instead, for receivers built to the spec's interface alone (``signing_key``): every such
receiver then holds the one secret, so any of them could sign a message to another.
"""

import hashlib
import hmac

from pydantic import AnyHttpUrl, TypeAdapter

SIGNATURE_HEADER = "X-Kinship-Signature"
TIMESTAMP_HEADER = "X-Kinship-Timestamp"
DELIVERY_HEADER = "X-Kinship-Delivery"

_URL = TypeAdapter(AnyHttpUrl)


def endpoint_url(url: str) -> str:
    """A URL in the form the directory keeps it (``https://host/`` gains its slash): the
    form an endpoint's secret is derived from."""
    return str(_URL.validate_python(url))


def endpoint_secret(master: bytes, url: str) -> str:
    """The signing secret of the endpoint ``url`` (64 hex characters; the receiver uses
    their UTF-8 bytes as its HMAC key)."""
    message = b"kinship-webhook-endpoint:v1:" + endpoint_url(url).encode()
    return hmac.new(master, message, hashlib.sha256).hexdigest()


def signing_key(master: bytes, url: str, *, shared: bool = False) -> bytes:
    """The key the body to ``url`` is signed with: its endpoint's secret (the UTF-8 bytes of
    ``endpoint_secret``), or with ``shared`` the master secret itself."""
    return master if shared else endpoint_secret(master, url).encode()


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Kinship-Signature`` header value: ``sha256=<hex HMAC of the body>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
