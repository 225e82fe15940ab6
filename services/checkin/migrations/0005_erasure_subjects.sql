-- An open erasure's subject ids, served to the other services (GET /v1/erasures/{id}/subjects)
-- instead of being put on Kafka next to the erasure id. Deleted once every service's receipt
-- is in, or at expires_at: after that nothing links the erasure, and so the person, to them.
CREATE TABLE erasure_subjects (
    erasure_id text PRIMARY KEY,
    subject_ids text[] NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX erasure_subjects_expiry ON erasure_subjects (expires_at);
