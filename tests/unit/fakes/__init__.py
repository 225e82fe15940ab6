"""In-memory fakes of the services' ports and of Kafka, for unit tests (no broker, no database).

One fake per port, shared by every test that needs it.
"""
