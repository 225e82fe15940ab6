"""Outreach preferences as the console offers them (the check-in service keeps them)."""

OUTREACH_CHOICES = ("welcome", "ask_first", "resources_only")
"""``welcome``: a peer may reach out; ``ask_first`` (the default): Kinship asks first, with a
yes/no; ``resources_only``: resources, no outreach. Immediate risk overrides each of them."""
DEFAULT_OUTREACH = "ask_first"


def chosen_outreach(value: str | None) -> str | None:
    """The choice a form posted, or None when it is not one of the three."""
    return value if value in OUTREACH_CHOICES else None
