"""People's outreach preferences, as the escalation service needs them: by subject id.

The check-in service keeps each person's choice (their own, or the directory's default) and
publishes it on the compacted topic ``privacy.outreach.preferences`` keyed by subject id, so
that escalation knows whether a peer may reach out without learning who the person is. A null
value (tombstone) forgets the subject (erasure).
"""

from pydantic import AwareDatetime, Field

from kinship_contracts.base import PlatformModel
from kinship_contracts.directory import OutreachPreference


class OutreachChanged(PlatformModel):
    """A subject's outreach preference (``welcome``, ``ask_first`` or ``resources_only``)."""

    subject_id: str
    preference: OutreachPreference
    chosen_by: str = Field(description="'person' (their own choice) or 'directory' (default).")
    updated_at: AwareDatetime
