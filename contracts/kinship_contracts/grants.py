"""Reveal grants: the escalation service's signed permission for one responder to learn who
the person of one case is, from the check-in service (the only one that can tell).

A grant names the case, its subject, the responder, whether the note of the triggering
check-in may be shown, and expires within minutes. It is an HS256 token signed with the key
both services hold (``KINSHIP_GRANT_KEY``); it carries no personal data.
"""

from datetime import datetime, timedelta

import jwt
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

AUDIENCE = "kinship:reveal"
ISSUER = "kinship/escalation"
MAX_LIFETIME = timedelta(minutes=15)


class GrantError(ValueError):
    """A grant that is forged, expired, malformed or lives too long."""


class RevealGrant(BaseModel):
    """What the assigned responder of a case may see of its person, and until when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: str
    subject_id: str
    responder_id: str
    note_checkin_id: str | None = None
    """The triggering check-in whose note may be shown (the person allowed it), if any."""
    issued_at: AwareDatetime
    expires_at: AwareDatetime


def sign_grant(grant: RevealGrant, key: bytes) -> str:
    """The grant as a token for the responder to present to the check-in service."""
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(grant.issued_at.timestamp()),
        "exp": int(grant.expires_at.timestamp()),
        "grant": grant.model_dump(mode="json"),
    }
    return jwt.encode(claims, key, algorithm="HS256")


def read_grant(token: str, key: bytes, now: datetime) -> RevealGrant:
    """The grant a token carries; raises ``GrantError`` for anything but a valid one."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "grant"], "verify_exp": False},
        )
        grant = RevealGrant.model_validate(claims["grant"])
    except (jwt.PyJWTError, ValidationError, TypeError) as error:
        raise GrantError("not a valid reveal grant") from error
    if grant.expires_at <= now:
        raise GrantError("the reveal grant has expired; open the case again")
    if grant.expires_at - grant.issued_at > MAX_LIFETIME:
        raise GrantError("the reveal grant lives too long")
    return grant
