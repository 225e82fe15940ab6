-- A compacted topic's record is removed by a tombstone: an outbox message with no value.

ALTER TABLE outbox ALTER COLUMN value DROP NOT NULL;
