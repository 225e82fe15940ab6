-- Team celebrations and programme evaluation. Facts only: times, outcomes, scores and
-- pseudonymous subject ids; never answers, notes or names.

ALTER TABLE kudos ADD COLUMN from_team_id text;
CREATE INDEX kudos_by_team ON kudos (from_team_id) WHERE from_team_id IS NOT NULL;
CREATE INDEX people_by_team ON people (team_id);
CREATE INDEX checkin_weeks_by_week ON checkin_weeks (week_start);

-- One row a case, filled in from escalation.cases as its transitions arrive.
CREATE TABLE case_facts (
    case_id text PRIMARY KEY,
    subject_id text NOT NULL,
    team_id text,
    severity text NOT NULL,
    opened_at timestamptz,
    acknowledged_at timestamptz,
    contacted_at timestamptz,
    resolved_at timestamptz,
    outcome text
);
CREATE INDEX case_facts_by_opened ON case_facts (opened_at);

CREATE TABLE case_feedback (
    case_id text NOT NULL,
    given_by text NOT NULL,
    subject_id text NOT NULL,
    score integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    given_at timestamptz NOT NULL,
    PRIMARY KEY (case_id, given_by)
);
CREATE INDEX case_feedback_by_time ON case_feedback (given_at);

-- A person's latest answers to a survey round; the respondent is their pseudonymous subject id.
CREATE TABLE pulse_responses (
    survey_id text NOT NULL,
    respondent text NOT NULL,
    response_id text NOT NULL UNIQUE,
    team_id text,
    answered_at timestamptz NOT NULL,
    know_how_to_get_support integer,
    comfortable_asking integer,
    programme_helps integer,
    PRIMARY KEY (survey_id, respondent)
);
CREATE INDEX pulse_responses_by_time ON pulse_responses (answered_at);

ALTER TABLE awards ADD COLUMN team_id text;
