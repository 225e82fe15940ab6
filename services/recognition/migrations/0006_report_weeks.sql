-- A closed week's programme report, stored the first time the week is served and served
-- from here ever after (GET /v1/reports/programme and its chart): recomputed on each read,
-- a week read before and after someone's erasure (their check-in weeks, pulse answers,
-- feedback and case facts deleted) gave their participation, answers or score by
-- subtraction. One row per week holds the organisation's figures and every team's, cut from
-- one complementary-suppression decision. Only the released figures (aggregates of k >= 5
-- people, withheld cells as such with their reason), no person or subject id: erasure
-- leaves these rows alone.
CREATE TABLE report_weeks (
    week date PRIMARY KEY,
    figures jsonb NOT NULL,
    released_at timestamptz NOT NULL
);
