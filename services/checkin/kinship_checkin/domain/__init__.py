"""The check-in domain: pure model and rules, no I/O."""
