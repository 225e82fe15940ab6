-- The urgent lane of the outbox: the relay claims these rows before every other row, so an
-- immediate-risk event never waits behind a backlog of ordinary ones (docs/performance.md).
-- Adding the column is a catalogue change (constant default); building the index holds
-- writes to the outbox for about a second per million waiting rows (docs/operations.md).

ALTER TABLE outbox ADD COLUMN urgent boolean NOT NULL DEFAULT false;
CREATE INDEX outbox_urgent_seq ON outbox (seq) WHERE urgent;
