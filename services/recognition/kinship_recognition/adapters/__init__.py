"""Adapters: PostgreSQL persistence and matplotlib charts of the recognition service."""
