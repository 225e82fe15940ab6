-- The programme's measures (GET /v1/metrics/programme) count each resolution's outcome in the
-- week it was recorded. cases.outcome is only the latest (a reopened case loses it), so each
-- 'resolved' audit record keeps its own. Records written before this know the case's
-- outcome if the case is still resolved and this was its latest resolution.
ALTER TABLE case_audit ADD COLUMN outcome text;
UPDATE case_audit a SET outcome = c.outcome
FROM cases c
WHERE a.case_id = c.id AND a.action = 'resolved' AND c.outcome IS NOT NULL
  AND a.seq = (SELECT max(seq) FROM case_audit l WHERE l.case_id = c.id AND l.action = 'resolved');
-- The first acknowledgement and first contact per case, by time recorded.
CREATE INDEX case_audit_programme ON case_audit (action, at) WHERE action IN ('acknowledged', 'contacted', 'resolved');
