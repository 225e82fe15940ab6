-- Care messages are never limited (issue 12): the daily limit holds back, and counts, only
-- celebrations and plain check-in reminders. Each delivery records whether it is one of
-- those (NotificationRequest.limited, set when the request is queued); deliveries queued
-- before this are classified the same way: not critical, and a celebration or a reminder
-- whose purpose is not a follow-up.
ALTER TABLE deliveries ADD COLUMN limited boolean NOT NULL DEFAULT false;

UPDATE deliveries SET limited = true
WHERE NOT critical
    AND (kind = 'celebration'
        OR (kind = 'checkin_reminder'
            AND coalesce(request->'params'->>'purpose', '')
                NOT IN ('follow_up', 'exposure_follow_up')));
