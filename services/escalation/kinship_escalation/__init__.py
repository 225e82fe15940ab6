"""Kinship escalation service: distress detection and the crisis-support workflow."""
