-- Erased person ids join the erased subject ids (0007) in the same table, as keyed hashes of
-- `person:<id>` under a key of their own (derived from the dead-letter key; never the ids),
-- each with when the person was (last) erased here: a kudos or pulse answer naming them, or
-- the appreciation of a case's responder, whose Kafka record was produced at or before that
-- time and is consumed after it (a backlog, a consumer-group reset or a replay) is skipped
-- instead of being stored (or awarded) again; one produced after the erasure is new and is
-- processed. NULL for the subject ids' digests, which have no time. Expired rows go with
-- the same hourly expiry. (kinship_runtime.erased_ids; decision 81.)
ALTER TABLE erased_ids ADD COLUMN erased_at timestamptz;
