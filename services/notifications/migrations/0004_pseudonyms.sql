-- The notifications service no longer links people to their subject ids (issue 11): only the
-- check-in service's vault can, asked at delivery time and never remembered here.
--  * directory_people.subject_id (the transitional column the runtime still has) is cleared;
--  * a delivery keeps its recipient as addressed: person_id or subject_id, never both. A
--    delivery to a subject used to record the person it reached; that is cleared, and a
--    request naming both keeps only the person id;
--  * waits: how often a delivery waited for the vault (not attempts at the channel);
--  * failure reasons become coarse (no HTTP status, exception name or SMTP detail);
--  * finished alerts keep their acknowledgement link without its token.

UPDATE directory_people SET subject_id = NULL WHERE subject_id IS NOT NULL;

ALTER TABLE deliveries ADD COLUMN subject_id text;
ALTER TABLE deliveries ADD COLUMN waits integer NOT NULL DEFAULT 0;

UPDATE deliveries
SET request = jsonb_set(request, '{recipient}', (request->'recipient') - 'subject_id')
WHERE request->'recipient'->>'person_id' IS NOT NULL
    AND request->'recipient'->>'subject_id' IS NOT NULL;

UPDATE deliveries
SET person_id = request->'recipient'->>'person_id',
    subject_id = request->'recipient'->>'subject_id';

UPDATE deliveries
SET last_error = CASE
    WHEN last_error LIKE 'http\_%' THEN 'rejected_by_receiver'
    WHEN last_error LIKE 'transport:%' OR last_error LIKE 'smtp:%' THEN 'failed'
    ELSE last_error END
WHERE last_error LIKE 'http\_%' OR last_error LIKE 'transport:%' OR last_error LIKE 'smtp:%';

-- Finished deliveries of alerts from before links were minted at send time keep no token.
UPDATE deliveries
SET request = jsonb_set(request, '{alert,ack_url}',
    to_jsonb(regexp_replace(regexp_replace(request->'alert'->>'ack_url',
        '([?&])token=[^&#]*&?', '\1'), '[?&]$', '')))
WHERE status <> 'pending' AND request->'alert'->>'ack_url' ~ '[?&]token=';

-- Daily limits count deliveries per address; erasure finds them by either id.
DROP INDEX IF EXISTS deliveries_sent_by_person;
CREATE INDEX deliveries_to_person ON deliveries (person_id, finished_at)
    WHERE person_id IS NOT NULL;
CREATE INDEX deliveries_to_subject ON deliveries (subject_id, finished_at)
    WHERE subject_id IS NOT NULL;
