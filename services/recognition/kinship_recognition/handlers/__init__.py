"""Recognition use cases: plain async functions over the ``RecognitionUnitOfWork`` port (and
the vault's ``SubjectLookup``).

Each runs inside a unit of work its caller (an HTTP route or a Kafka subscription) has
entered: everything it does commits together, or not at all. Awards are given under
deterministic keys (``kudos:<id>``, ``kudos-milestone:<person>:<n>``, ``streak:<subject>:<n>``,
...), so replaying any stream from its start awards nothing twice. Nothing here reads
scores, cases' content or outcomes for an award: a celebration must never reveal distress.
"""
