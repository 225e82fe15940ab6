"""Kinship notifications service: reliable alerts to responders, and messages to people."""
