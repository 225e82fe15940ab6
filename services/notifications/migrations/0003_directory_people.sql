-- The service's directory table `recipients` becomes the runtime's `directory_people`
-- (created by the runtime's migration, kept with contact details): its rows move over, so no
-- consumer has to re-read the compacted `directory.people` topic. `recipients` had no team
-- or roles (notifications reads neither): they stay empty until the person's next record.
-- Schemas created after 0001 was amended never had `recipients`: nothing to move.

DO $$
BEGIN
    IF to_regclass('recipients') IS NOT NULL THEN
        INSERT INTO directory_people (person_id, team_id, timezone, roles, active, subject_id,
            channels)
        SELECT person_id, '', timezone, '{}', active, subject_id, channels FROM recipients
        ON CONFLICT (person_id) DO NOTHING;
        DROP TABLE recipients;
    END IF;
END $$;
