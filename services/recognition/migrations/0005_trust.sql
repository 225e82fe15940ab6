-- Trust (issue 11). Pseudonyms stay pseudonymous: this service no longer knows anyone's
-- subject id from their person id, so the transitional directory column is cleared (the
-- runtime's projection leaves it NULL from now on).
UPDATE directory_people SET subject_id = NULL WHERE subject_id IS NOT NULL;

-- A check-in week counts for the team its check-in named (participation per team needs no
-- directory lookup by subject id).
ALTER TABLE checkin_weeks ADD COLUMN team_id text;
CREATE INDEX checkin_weeks_by_team ON checkin_weeks (team_id, week_start)
    WHERE team_id IS NOT NULL;

-- When each fact was recorded here: a report counts a fact in its week only if it was
-- recorded before the week closed, so a published week never changes. Rows from before
-- this migration count as recorded in time.
ALTER TABLE checkin_weeks ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE checkin_weeks ALTER COLUMN recorded_at DROP DEFAULT;
ALTER TABLE pulse_responses ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE pulse_responses ALTER COLUMN recorded_at DROP DEFAULT;
ALTER TABLE case_facts ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE case_facts ALTER COLUMN recorded_at DROP DEFAULT;
ALTER TABLE case_feedback ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE case_feedback ALTER COLUMN recorded_at DROP DEFAULT;

-- Erasure finds what is kept by person or subject id.
CREATE INDEX awards_by_person ON awards (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX awards_by_subject ON awards (subject_id) WHERE subject_id IS NOT NULL;
CREATE INDEX case_facts_by_subject ON case_facts (subject_id);
CREATE INDEX case_feedback_by_subject ON case_feedback (subject_id);
CREATE INDEX pulse_responses_by_respondent ON pulse_responses (respondent);
