"""Kinship recognition service: kudos, streaks and milestones, celebrated."""
