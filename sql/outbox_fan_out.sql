-- Fan a batch of captured events out to every active subscription of an active
-- consumer for the event's type: one job each. Each event gets its id here,
-- derived from the captured row. Jobs are leased to this replica at once
-- (attempt 1, run_at = lease expiry) as far as there is room, so the
-- dispatcher starts them without claiming them again; they log nothing yet
-- (envelope_logged false: their first attempt's row carries the envelope,
-- migrations/V15).
-- An event some of whose jobs would have to wait (a subscription or consumer
-- at its cap, no free slot) is kept back in the outbox, unless $11: there it
-- costs nothing, while a job that waits costs a 'pending' log row with the
-- envelope and a claim. The dispatcher sets $11 once an event has been kept
-- back for a while (src/delivery/keep_back.rs), so that a slow or hanging
-- receiver's events become waiting jobs and do not hold up the outbox.
-- $1: events to look at; $2: jobs to lease at most (room in flight and on
-- deck, src/delivery/in_flight.rs); $3: lease in ms; $4: this replica; $5:
-- jobs leased per subscription at most; $6/$7: subscriptions with jobs leased
-- to this replica (in flight or on deck), and how many; $8: jobs leased per
-- consumer at most; $9/$10: consumers with jobs leased to this replica, and
-- how many; $11: take every event
-- looked at, the jobs that do not fit waiting (each with its 'pending' row).
-- $6 and $9 are sorted by id, each id once: rows find their entry by binary
-- search (width_bucket), as jobs find their event below. No join here is
-- left to the planner: the worker's plans are generic, made once from the
-- statistics of the moment, and one made while the outbox was empty
-- rescanned one list for each row of another (see the test
-- schema::the_fan_out_scans_no_queue_and_rescans_no_list_whatever_the_statistics).
-- Returns one row per leased job, each also carrying the batch's counts; a
-- batch that leased nothing returns one row of counts with NULL job columns.
WITH candidates AS (
    -- Looked at, not locked: only the events taken below are (another
    -- replica's fan-out may take some of these first).
    SELECT seq, event_type FROM ihf_outbox ORDER BY seq LIMIT $1
), targets AS (
    -- Each event looks its subscriptions up by index. The worker's plans are
    -- made once from the statistics of the moment, and a join left to the
    -- planner can be one that rescans the events for every subscription;
    -- OFFSET 0 keeps the planner from turning the lookup into such a join.
    SELECT c.seq, s.id AS subscription_id, s.api_consumer_id AS consumer_id,
           row_number() OVER (PARTITION BY s.id ORDER BY c.seq) AS nth
      FROM candidates c
     CROSS JOIN LATERAL (
           SELECT s.id, s.api_consumer_id
             FROM webhook_subscriptions s
            WHERE s.event_type = c.event_type AND s.is_active AND s.deleted_at IS NULL
              AND (SELECT a.is_active FROM api_consumers a WHERE a.id = s.api_consumer_id)
           OFFSET 0) s
), fitting_subscription AS (
    SELECT t.*,
           t.nth <= $5::bigint - CASE WHEN ($6::uuid[])[b.at] = t.subscription_id
                                      THEN ($7::int[])[b.at] ELSE 0 END AS fits_subscription
      FROM targets t
     CROSS JOIN LATERAL (SELECT width_bucket(t.subscription_id, $6::uuid[]) AS at) b
), fitting AS (
    -- Of the jobs that fit their subscription's room, as many as fit the
    -- consumer's (several subscriptions share it).
    SELECT f.*,
           f.fits_subscription
           AND row_number() OVER (PARTITION BY f.consumer_id, f.fits_subscription ORDER BY f.seq, f.subscription_id)
               <= $8::bigint - CASE WHEN ($9::uuid[])[b.at] = f.consumer_id
                                    THEN ($10::int[])[b.at] ELSE 0 END AS fits
      FROM fitting_subscription f
     CROSS JOIN LATERAL (SELECT width_bucket(f.consumer_id, $9::uuid[]) AS at) b
), chosen AS (
    SELECT f.seq, f.subscription_id,
           f.fits AND row_number() OVER (PARTITION BY f.fits ORDER BY f.seq, f.subscription_id) <= $2
               AS leased,
           count(*) OVER (PARTITION BY f.seq) AS jobs_of_event,
           count(*) OVER (PARTITION BY f.seq, f.consumer_id) AS jobs_of_consumer
      FROM fitting f
), kept AS (
    -- Events with a job that could not start now. An event that can never
    -- start all at once is taken: more jobs than there are free slots, or
    -- more for one consumer than its cap.
    SELECT seq FROM chosen
     WHERE NOT $11::bool
     GROUP BY seq
    HAVING bool_or(NOT leased) AND max(jobs_of_event) <= $2 AND max(jobs_of_consumer) <= $8::bigint
), taken AS (
    -- The candidates are the first events by seq in this statement's
    -- snapshot, so the range from the first to the last holds just them: one
    -- index range scan locks them, and the delete finds each locked row by
    -- its ctid (outbox rows are never updated, so a locked row keeps it),
    -- not by an index search per event. With the next change, a round of
    -- 400 events nobody subscribes to went from 4.4-8.9 ms to 0.9-2.1
    -- (SUBSCRIBED=0 bench/fan_out_rounds.sh, 2026-12-04).
    DELETE FROM ihf_outbox
     WHERE ctid = ANY (ARRAY(
               SELECT o.ctid FROM ihf_outbox o
                WHERE o.seq BETWEEN (SELECT min(seq) FROM candidates) AND (SELECT max(seq) FROM candidates)
                  AND o.seq <> ALL (ARRAY(SELECT seq FROM kept))
                ORDER BY o.seq
                  FOR UPDATE SKIP LOCKED))
    RETURNING seq, event_type, data, occurred_at
), with_jobs AS (
    -- The events with a job, sorted by seq. Only they get an id and an
    -- envelope; an event no subscription wants is just deleted.
    SELECT array_agg(DISTINCT seq ORDER BY seq) AS seqs FROM chosen
), hashed AS (
    -- The id is a function of the captured row (migrations/V9), so an event
    -- fanned out again after a lost commit keeps it: md5(salt:seq:µs), laid
    -- out as a UUIDv7 (RFC 9562 section 5.7) whose first 48 bits are the
    -- capture time in Unix milliseconds. Ids then sort by capture time, and a
    -- reader can bound a search of the log by the time an id carries.
    SELECT t.seq, t.event_type, t.data, t.occurred_at,
           decode(md5((SELECT event_id_salt::text FROM ihf_installation) || ':' || t.seq || ':'
                      || (extract(epoch FROM t.occurred_at) * 1000000)::bigint), 'hex') AS h,
           floor(extract(epoch FROM t.occurred_at) * 1000)::bigint AS unix_ms
      FROM taken t
     WHERE (SELECT seqs FROM with_jobs)[width_bucket(t.seq, (SELECT seqs FROM with_jobs))] = t.seq
), events AS MATERIALIZED (
    -- Materialized: inlined, each use of event_id would hash the event again.
    SELECT seq,
           encode(set_byte(set_byte(
                      overlay(h PLACING substring(int8send(unix_ms) FROM 3 FOR 6) FROM 1 FOR 6),
                      6, (get_byte(h, 6) & 15) | 112),   -- version 7: 0111xxxx
                  8, (get_byte(h, 8) & 63) | 128),       -- RFC variant: 10xxxxxx
                  'hex')::uuid AS event_id,
           event_type, data, occurred_at
      FROM hashed
), envelopes AS (
    -- The events taken, as arrays sorted by seq, in which each job finds its
    -- event by binary search (width_bucket) rather than by a join: the plan
    -- of a join depends on the outbox's statistics, and one made while the
    -- outbox was empty rescans one side for every row of the other.
    SELECT array_agg(seq ORDER BY seq) AS seqs,
           array_agg(event_id ORDER BY seq) AS event_ids,
           array_agg(jsonb_build_object(
               'id', event_id,
               'type', event_type,
               'timestamp', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'data', data) ORDER BY seq) AS payloads
      FROM events
), jobs AS (
    INSERT INTO ihf_jobs (subscription_id, event_id, payload, attempts, run_at, claimed_by, envelope_logged)
    SELECT c.subscription_id, e.event_ids[c.at], e.payloads[c.at],
           CASE WHEN c.leased THEN 1 ELSE 0 END,
           CASE WHEN c.leased THEN now() + $3::bigint * interval '1 millisecond' ELSE now() END,
           CASE WHEN c.leased THEN $4::uuid END,
           NOT c.leased
      FROM envelopes e
     CROSS JOIN LATERAL (SELECT c.*, width_bucket(c.seq, e.seqs) AS at FROM chosen c) c
     WHERE e.seqs[c.at] = c.seq
    RETURNING id, attempts, event_id, subscription_id, payload, claimed_by, envelope_logged
), logged AS (
    -- Only the jobs that wait: a leased one's first attempt is logged with
    -- the envelope instead.
    INSERT INTO webhook_deliveries (webhook_subscription_id, payload, status, error_message)
    SELECT subscription_id, payload, 'pending', 'scheduled: waiting for a free slot'
      FROM jobs
     WHERE claimed_by IS NULL
    RETURNING 1
), counts AS (
    SELECT (SELECT count(*) FROM candidates) AS looked_at,
           (SELECT count(*) FROM taken) AS events,
           (SELECT count(*) FROM jobs) AS jobs,
           (SELECT min(seq) FROM kept) AS first_kept,
           (SELECT max(seq) FROM kept) AS last_kept
)
SELECT c.looked_at, c.events, c.jobs, c.first_kept, c.last_kept,
       j.id, j.attempts, j.event_id, j.subscription_id, s.api_consumer_id AS consumer_id,
       j.payload::text AS body, j.envelope_logged,
       s.event_type, (j.payload->>'timestamp')::timestamptz AS occurred_at,
       s.target_url, s.secret,
       CASE WHEN s.previous_secret_expires_at > now() THEN s.previous_secret END AS previous_secret,
       true AS active, s.headers
  FROM counts c
  LEFT JOIN (jobs j CROSS JOIN LATERAL (
                 SELECT * FROM webhook_subscriptions s WHERE s.id = j.subscription_id OFFSET 0) s)
         ON j.claimed_by IS NOT NULL
