-- On-call schedules (issue 16): layers, restrictions, overrides, swaps and holidays in a
-- named time zone, stored whole as the domain model's JSON (``domain.schedules.Schedule``).
CREATE TABLE schedules (
    name text PRIMARY KEY,
    body jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
