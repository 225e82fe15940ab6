-- DEVELOPMENT ONLY: roles and passwords for the Compose stack (docker-compose.yml). Never
-- reuse these passwords anywhere else.
--
-- Runs once, when the postgres container initialises an empty data volume
-- (/docker-entrypoint-initdb.d), as the superuser in the `kinship` database.
--
-- One login role per service, owning the schema of the same name: a service can read and
-- write only its own schema (KINSHIP_DATABASE_SCHEMA defaults to the service name). The
-- migrations runner starts with CREATE SCHEMA IF NOT EXISTS, and PostgreSQL checks the
-- database's CREATE privilege before it looks for an existing schema, so each role also
-- gets CREATE on the database.

CREATE ROLE checkin LOGIN PASSWORD 'checkin-dev-password';
CREATE ROLE escalation LOGIN PASSWORD 'escalation-dev-password';
CREATE ROLE notifications LOGIN PASSWORD 'notifications-dev-password';
CREATE ROLE recognition LOGIN PASSWORD 'recognition-dev-password';
CREATE ROLE console LOGIN PASSWORD 'console-dev-password';

CREATE SCHEMA checkin AUTHORIZATION checkin;
CREATE SCHEMA escalation AUTHORIZATION escalation;
CREATE SCHEMA notifications AUTHORIZATION notifications;
CREATE SCHEMA recognition AUTHORIZATION recognition;
CREATE SCHEMA console AUTHORIZATION console;

REVOKE ALL ON DATABASE kinship FROM PUBLIC;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE kinship TO checkin, escalation, notifications, recognition, console;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
