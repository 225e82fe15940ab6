-- A team's closed week as its first reading released it, served from here ever after
-- (GET /v1/teams/{team_id}/trends): recomputed from `checkins` on each read, a week read
-- before and after a member's erasure (their check-ins deleted) gave that member's figures
-- by subtraction. Only what was released: a shown week's aggregates (people counted, check-ins,
-- sums and counts of each answer, over at least k people), or that it was withheld, or quiet
-- (no check-ins by its first reading). No person or subject ids: not personal data, so erasure
-- leaves these rows alone. A row is the week as first served: later directory changes (people
-- joining or leaving the team) do not rewrite it.
CREATE TABLE trend_weeks (
    team_id text NOT NULL,
    week_start date NOT NULL,
    state text NOT NULL CHECK (state IN ('shown', 'withheld', 'quiet')),
    totals jsonb,
    released_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, week_start),
    CHECK ((state = 'shown') = (totals IS NOT NULL))
);

-- A window of closed weeks as its first reading released it: whether it was available (at
-- least k people over it) and, when all its weeks were shown, how many distinct people it
-- covered. Counts only.
CREATE TABLE trend_windows (
    team_id text NOT NULL,
    first_week date NOT NULL,
    last_week date NOT NULL,
    available boolean NOT NULL,
    people integer,
    released_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, first_week, last_week)
);
