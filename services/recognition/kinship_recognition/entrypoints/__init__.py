"""Entrypoints: the HTTP API and the Kafka subscriptions."""
