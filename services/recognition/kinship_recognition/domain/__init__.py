"""Pure domain: kudos rules, streaks, milestones. No I/O."""
