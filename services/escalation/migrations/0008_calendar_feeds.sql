-- Secret calendar-feed URLs (issue 16): only the SHA-256 of each URL's token is kept, so a
-- copy of the database never yields a working URL. Each person has their own URL per feed
-- (a schedule, or their own shifts): asking again replaces it, and the old one stops working.
CREATE TABLE calendar_feeds (
    token_hash text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('schedule', 'person')),
    subject text NOT NULL,
    owner text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (kind, subject, owner)
);
CREATE INDEX calendar_feeds_by_owner ON calendar_feeds (owner);

-- The wellbeing report counts each person's alerts over a period.
CREATE INDEX alerts_by_sent_at ON alerts (sent_at);
