-- Erasure progress of a service: its two halves (data keyed by the person, data keyed by their
-- subject ids) arrive on two topics, in either order; the receipt goes out when both are done.
-- Only the erasure id is kept: never whom it concerned.

CREATE TABLE IF NOT EXISTS erasure_progress (
    erasure_id text PRIMARY KEY,
    person_done_at timestamptz,
    subjects_done_at timestamptz,
    receipt_sent_at timestamptz,
    removed jsonb NOT NULL DEFAULT '{}'
);
