-- Idempotent consumers: an event id is processed once per consumer, recorded in the same
-- transaction as its effect (see kinship_runtime.idempotency).

CREATE TABLE IF NOT EXISTS processed_events (
    consumer text NOT NULL,
    event_id text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
