-- The audit trail becomes append-only, hash-chained and partitioned by month (SPEC "Audit").
--
-- An event's row is queued (audit_queue) in the transaction of the event itself, so there is no edit
-- without its row and no row without its edit. Right after that transaction commits, hsc seals the
-- queue into audit_logs: under the chain head's row lock it numbers the rows (seq), links each to the
-- previous one (prev_hash) and signs it (hash = HMAC-SHA-256 with AUDIT_HMAC_KEY, which never enters
-- the database). The chain so follows commit order, and a writer holds no lock beyond its own insert.
--
-- audit_logs takes only INSERTs from the sealer; the application role may only read it. Triggers
-- refuse UPDATE, DELETE and TRUNCATE for every role, the owner included. Audit rows name users and
-- sessions without foreign keys: they outlive both.

CREATE FUNCTION hsc_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- ---------------------------------------------------------------------------------------------
-- The queue: rows waiting for their place in the chain (normally for a few milliseconds).
CREATE TABLE audit_queue (
    queued bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The transaction of the event: its edit and its audit rows share it.
    xact bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
    user_id uuid,
    session_id uuid,
    action text NOT NULL CHECK (action ~ '^[A-Z][A-Z_]*$'),
    severity audit_severity NOT NULL,
    resource_type text,
    resource_id uuid,
    patient_id uuid,
    ip_address text,
    user_agent text,
    outcome audit_outcome NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'::jsonb
);

-- Rows pass through in milliseconds: vacuum often, so sealers reading the queue's head do not wade
-- through the dead rows of everything sealed before.
ALTER TABLE audit_queue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000,
                             autovacuum_vacuum_cost_delay = 0);

-- A queued row leaves only once it is in the chain (checked once per statement: the sealer deletes
-- a batch at a time), and never changes.
CREATE FUNCTION hsc_audit_queue_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row record;
BEGIN
    -- One index probe per row (a join would be planned without knowing the batch is small).
    FOR row IN SELECT occurred_at, id FROM gone LOOP
        IF NOT EXISTS (SELECT 1 FROM audit_logs l WHERE l.occurred_at = row.occurred_at AND l.id = row.id) THEN
            RAISE EXCEPTION 'audit_queue rows leave only by being sealed into audit_logs: DELETE is refused'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_queue_sealed_only AFTER DELETE ON audit_queue
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION hsc_audit_queue_guard();
CREATE TRIGGER audit_queue_no_update BEFORE UPDATE ON audit_queue
    FOR EACH STATEMENT EXECUTE FUNCTION hsc_audit_append_only();
CREATE TRIGGER audit_queue_no_truncate BEFORE TRUNCATE ON audit_queue
    FOR EACH STATEMENT EXECUTE FUNCTION hsc_audit_append_only();

-- Rows written before the chain existed are queued, oldest first, to be sealed by the first hsc
-- that runs with the key (with this migration's transaction: theirs is not known).
INSERT INTO audit_queue (id, occurred_at, user_id, session_id, action, severity, resource_type,
                         resource_id, patient_id, ip_address, user_agent, outcome, details)
SELECT id, occurred_at, user_id, session_id, action, severity, resource_type,
       resource_id, patient_id, ip_address, user_agent, outcome, details
FROM audit_logs ORDER BY seq;
DROP TABLE audit_logs;

-- The application role adds rows about its acting user (or, before sign-in, about nobody or the
-- account being signed in to), and cannot choose a row's id or time.
GRANT INSERT (user_id, session_id, action, severity, resource_type, resource_id, patient_id,
              ip_address, user_agent, outcome, details) ON audit_queue TO hsc_app;
ALTER TABLE audit_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_queue FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON audit_queue TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY audit_append ON audit_queue FOR INSERT TO hsc_app WITH CHECK (
    user_id = (SELECT hsc_acting_user())
    OR ((SELECT hsc_acting_user()) IS NULL
        AND (user_id IS NULL OR user_id = (SELECT hsc_signing_in_user())))
);

-- ---------------------------------------------------------------------------------------------
-- The chain: one partition per calendar month (UTC) of occurred_at.
CREATE TABLE audit_logs (
    -- The chain's order: 1, 2, 3, … with no gaps.
    seq bigint NOT NULL,
    id uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    xact bigint NOT NULL,
    user_id uuid,
    session_id uuid,
    action text NOT NULL,
    -- Text rather than the enums the queue checks them with: text equality is leakproof, so the
    -- viewer's severity and outcome filters can use their indexes under row-level security.
    severity text NOT NULL,
    resource_type text,
    resource_id uuid,
    patient_id uuid,
    ip_address text,
    user_agent text,
    outcome text NOT NULL,
    details jsonb NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (seq, occurred_at)
) PARTITION BY RANGE (occurred_at);

-- The viewer pages newest first, under one filter at a time (keyset on occurred_at, seq).
CREATE INDEX audit_logs_time_idx ON audit_logs (occurred_at, seq);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, occurred_at, seq);
CREATE INDEX audit_logs_patient_idx ON audit_logs (patient_id, occurred_at, seq);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, occurred_at, seq);
CREATE INDEX audit_logs_severity_idx ON audit_logs (severity, occurred_at, seq);
CREATE INDEX audit_logs_outcome_idx ON audit_logs (outcome, occurred_at, seq);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_id, occurred_at, seq);

CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION hsc_audit_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION hsc_audit_append_only();

-- Creates the partition holding `at` unless it exists. Row triggers reach partitions by themselves;
-- TRUNCATE triggers do not, so each partition gets its own, and row-level security that lets no one
-- but the owner read it directly (the application role reads through audit_logs and its policies).
CREATE FUNCTION hsc_audit_partition(at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    month timestamp := date_trunc('month', at AT TIME ZONE 'UTC');
    name text := format('audit_logs_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
BEGIN
    IF to_regclass(format('public.%I', name)) IS NOT NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE TABLE public.%I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)',
                   name, month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', name);
    EXECUTE format('CREATE POLICY maintenance ON public.%I TO CURRENT_USER USING (true) WITH CHECK (true)', name);
    EXECUTE format('CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON public.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION hsc_audit_append_only()', name);
END
$$;
REVOKE ALL ON FUNCTION hsc_audit_partition(timestamptz) FROM PUBLIC;

-- This month and the next exist from the start; the sealer adds the others as it meets them.
SELECT hsc_audit_partition(now());
SELECT hsc_audit_partition(now() + interval '1 month');
SELECT hsc_audit_partition(month AT TIME ZONE 'UTC')
FROM (SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') AS month FROM audit_queue) q;

GRANT SELECT ON audit_logs TO hsc_app;
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON audit_logs TO CURRENT_USER USING (true) WITH CHECK (true);
-- Admins read everything; records staff the events about records (and break-glass); a patient the
-- accesses to their own records, break-glass included: an accounting of disclosures.
CREATE POLICY audit_read ON audit_logs FOR SELECT TO hsc_app USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'admin' THEN true
        WHEN 'patient' THEN patient_id = (SELECT hsc_acting_user())
                            AND (resource_type = 'medical_record' OR action = 'EMERGENCY_ACCESS')
        WHEN 'medical_records' THEN resource_type = 'medical_record' OR action = 'EMERGENCY_ACCESS'
        ELSE false
    END
);

-- The head of the chain: the last sealed row. Its row lock is the chain's one lock, held by a sealer
-- for one batch.
CREATE TABLE audit_chain (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    occurred_at timestamptz
);
INSERT INTO audit_chain (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- The head's sequence number, for the viewer's live tail (it follows rows after it); nothing secret.
CREATE FUNCTION hsc_audit_head() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT seq FROM audit_chain
$$;
REVOKE ALL ON FUNCTION hsc_audit_head() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hsc_audit_head() TO hsc_app;

-- ---------------------------------------------------------------------------------------------
-- An admin's "reviewed" mark on an event: added once, never changed (the mark is audited too).
CREATE TABLE audit_reviews (
    audit_seq bigint PRIMARY KEY,
    reviewed_by uuid NOT NULL,
    reviewed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER audit_reviews_append_only BEFORE UPDATE OR DELETE ON audit_reviews
    FOR EACH ROW EXECUTE FUNCTION hsc_audit_append_only();
CREATE TRIGGER audit_reviews_no_truncate BEFORE TRUNCATE ON audit_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION hsc_audit_append_only();
GRANT SELECT, INSERT ON audit_reviews TO hsc_app;
ALTER TABLE audit_reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_reviews FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON audit_reviews TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY reviews_read ON audit_reviews FOR SELECT TO hsc_app USING (
    (SELECT hsc_acting_role()) = 'admin'
);
CREATE POLICY reviews_mark ON audit_reviews FOR INSERT TO hsc_app WITH CHECK (
    (SELECT hsc_acting_role()) = 'admin'
    AND reviewed_by = (SELECT hsc_acting_user())
    AND reviewed_at = now()
);

-- Admins review break-glass events, so they may read the emergency grants behind them (the reason).
CREATE POLICY grants_read_emergency ON access_grants FOR SELECT TO hsc_app USING (
    (SELECT hsc_acting_role()) = 'admin' AND is_emergency
);
