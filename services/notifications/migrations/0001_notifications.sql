-- Deliveries and preferences of the notifications service (the runtime's migrations add the
-- outbox and the directory projection; 0003 moves recipients of earlier schemas into it).

CREATE TABLE preferences (
    person_id text PRIMARY KEY,
    locale text NOT NULL DEFAULT 'en',
    quiet_start time,
    quiet_end time,
    recognition_opt_out boolean NOT NULL DEFAULT false,
    max_per_day integer NOT NULL DEFAULT 5,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per request: its id is the delivery id, so a redelivered request is a no-op.
CREATE TABLE deliveries (
    id text PRIMARY KEY,
    kind text NOT NULL,
    critical boolean NOT NULL,
    request jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until timestamptz,
    channel text,
    last_error text,
    person_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_sent_by_person ON deliveries (person_id, finished_at)
    WHERE status = 'delivered' AND NOT critical;
