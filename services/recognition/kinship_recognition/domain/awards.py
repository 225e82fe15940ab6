"""Awards as this service gives them: once each, addressed without linking a person to a
subject in anything it keeps."""

from dataclasses import dataclass

from kinship_contracts.awards import AwardKind


@dataclass(frozen=True)
class Grant:
    """An award to give once, and to whom.

    ``key`` makes replays award nothing twice (``kudos:<kudos id>``,
    ``kudos-milestone:<person>:<n>``, ``streak:<subject>:<n>``, ...). Exactly one of
    ``person_id``, ``subject_id`` and ``team_id`` names the recipient, and only that one is
    stored with the award: a person is celebrated by the subject id the vault gives them when
    the award is published, and that answer is never kept.
    """

    key: str
    kind: AwardKind
    title: str
    count: int | None = None
    person_id: str | None = None
    subject_id: str | None = None
    team_id: str | None = None

    def __post_init__(self) -> None:
        named = [value for value in (self.person_id, self.subject_id, self.team_id) if value]
        if len(named) != 1:
            raise ValueError(f"award {self.key!r} needs exactly one of person, subject or team")
