-- When each closed week of a team's trend was first read. From then on its figures count only
-- the check-ins recorded by that moment: one more check-in dated back into a week someone has
-- already seen cannot be read off as the difference between two readings. Team ids and
-- dates only: nothing about anyone.

CREATE TABLE trend_reads (
    team_id text NOT NULL,
    week_start date NOT NULL,
    first_read_at timestamptz NOT NULL,
    PRIMARY KEY (team_id, week_start)
);
