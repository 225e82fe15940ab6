-- Several contact methods per person (issue 16): a person's chosen channels in their order,
-- each with a delay after a delivery's first try; a delivery remembers which method its next
-- attempt uses and when its round over the methods began.
ALTER TABLE preferences ADD COLUMN contact_methods jsonb NOT NULL DEFAULT '[]'::jsonb;

ALTER TABLE deliveries
    ADD COLUMN method integer NOT NULL DEFAULT 0,
    ADD COLUMN round_started_at timestamptz;
