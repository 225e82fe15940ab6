"""The outbox relay, for unit tests of entrypoints: counts wake-ups instead of publishing."""


class FakeRelay:
    """Stands in for ``kinship_runtime.outbox.OutboxRelay`` where only ``wake`` is called."""

    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1
