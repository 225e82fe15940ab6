-- A closed week's programme figures, stored the first time the week is served and served
-- from here ever after (GET /v1/metrics/programme): recomputed on each read, a week read
-- before and after someone's erasure (their feedback deleted) gave their score by
-- subtraction. Only the released figures (aggregates, withheld cells as such), no ids:
-- erasure leaves these rows alone.
CREATE TABLE programme_weeks (
    week date PRIMARY KEY,
    figures jsonb NOT NULL,
    released_at timestamptz NOT NULL
);
