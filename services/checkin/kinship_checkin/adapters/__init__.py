"""Adapters: PostgreSQL persistence of the check-in service."""
