-- A person may opt out of plain and overdue check-in reminders (decision 91's regular
-- reminders), as of celebrations; follow-up reminders after a case or an incident are care
-- messages and are never opted out of.
ALTER TABLE preferences ADD COLUMN reminders_opt_out boolean NOT NULL DEFAULT false;
