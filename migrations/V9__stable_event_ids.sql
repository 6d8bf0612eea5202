-- Event ids that survive a lost fan-out.
--
-- Fan-out gives each event its id. The worker commits asynchronously
-- (synchronous_commit=off), so a database crash can undo a fan-out whose
-- webhooks were already sent; the captured row is then fanned out again. A
-- random id would reach the consumer as a new event, defeating its
-- de-duplication by webhook-id. An id derived from the captured row (its seq
-- and capture time, made durable by the framework's own synchronous commit) is
-- the same both times. The salt, drawn once per installation, keeps two
-- installations' ids apart, and the capture time keeps ids apart should the
-- outbox's identity ever be restarted.
CREATE TABLE ihf_installation (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    event_id_salt UUID NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO ihf_installation DEFAULT VALUES;
