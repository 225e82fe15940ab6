"""Kinship."""
