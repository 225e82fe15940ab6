"""Team celebrations: only for teams where at least five members contribute (k ≥ 5).

A team is celebrated for what its members do together (check in, thank each other), never
for what any one of them does, so a celebration can never point at a person.
"""

MIN_CONTRIBUTORS = 5
"""A team is celebrated only when at least this many members contributed (k-anonymity)."""

TEAM_KUDOS_MILESTONES = (10, 25, 50, 100, 250, 500)
PARTICIPATION_MILESTONES = (50, 75, 90)
"""Percent of a team's active members checking in within one week."""


def team_kudos_milestone(given: int, senders: int) -> int | None:
    """The highest kudos milestone a team's members have reached together, if celebrated.

    Only the highest is returned: a team that reaches 25 kudos while fewer than five of its
    members had sent any is celebrated once for 25, not twice for 10 and 25.
    """
    if senders < MIN_CONTRIBUTORS:
        return None
    reached = [milestone for milestone in TEAM_KUDOS_MILESTONES if given >= milestone]
    return reached[-1] if reached else None


def participation_milestone(participants: int, members: int) -> int | None:
    """The highest participation milestone (percent) one week reaches, if celebrated."""
    if participants < MIN_CONTRIBUTORS or members <= 0:
        return None
    reached = [m for m in PARTICIPATION_MILESTONES if participants * 100 >= m * members]
    return reached[-1] if reached else None
