-- Pseudonyms stay pseudonymous: this service keeps staff facts by person id only, never the
-- subject id next to a person (only the check-in service's vault links the two). The
-- projection stops filling the column; what it held goes.
UPDATE directory_people SET subject_id = NULL WHERE subject_id IS NOT NULL;

-- The audit trail names the real caller (actor: 'person:<id>', 'system:<name>', or a part of
-- this service) and, apart, whom the action concerns (the cases' subject ids). A read of a
-- list is one record naming every case it returned (case_id only when it is about one).
ALTER TABLE case_audit ALTER COLUMN case_id DROP NOT NULL;
ALTER TABLE case_audit ADD COLUMN case_ids text[] NOT NULL DEFAULT '{}';
ALTER TABLE case_audit ADD COLUMN subject_ids text[] NOT NULL DEFAULT '{}';
UPDATE case_audit a SET case_ids = ARRAY[a.case_id], subject_ids = ARRAY[c.subject_id]
FROM cases c WHERE c.id = a.case_id;
CREATE INDEX case_audit_by_subject ON case_audit USING gin (subject_ids);
