-- The directory projection: the one table each service keeps of `directory.people`, with only
-- the columns the service asks for filled in (see kinship_runtime.directory).
-- Written to converge with the check-in service's earlier table of the same name.

CREATE TABLE IF NOT EXISTS directory_people (
    person_id text PRIMARY KEY,
    team_id text NOT NULL,
    timezone text NOT NULL,
    roles text[] NOT NULL DEFAULT '{}',
    active boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE directory_people ADD COLUMN IF NOT EXISTS subject_id text;
ALTER TABLE directory_people ADD COLUMN IF NOT EXISTS display_name text;
ALTER TABLE directory_people ADD COLUMN IF NOT EXISTS channels jsonb;
CREATE INDEX IF NOT EXISTS directory_people_by_subject ON directory_people (subject_id)
    WHERE subject_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS directory_people_by_team ON directory_people (team_id);
