-- Back to one unpartitioned, unchained audit_logs as 0006 and 0007 made it; sealed rows first, in
-- chain order, then whatever was still queued.
DROP POLICY grants_read_emergency ON access_grants;
DROP TABLE audit_reviews;
DROP FUNCTION hsc_audit_head();
DROP TABLE audit_chain;

CREATE TABLE audit_logs_unchained (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The chain's total order.
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id uuid REFERENCES users (id),
    session_id uuid REFERENCES sessions (id),
    action text NOT NULL CHECK (action ~ '^[A-Z][A-Z_]*$'),
    severity audit_severity NOT NULL,
    resource_type text,
    resource_id uuid,
    patient_id uuid REFERENCES users (id),
    ip_address text,
    user_agent text,
    outcome audit_outcome NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash bytea,
    hash bytea
);

-- The old table had foreign keys: a reference to a user or session that is gone is dropped.
INSERT INTO audit_logs_unchained (id, occurred_at, user_id, session_id, action, severity, resource_type,
                        resource_id, patient_id, ip_address, user_agent, outcome, details)
SELECT e.id, e.occurred_at,
       (SELECT u.id FROM users u WHERE u.id = e.user_id),
       (SELECT s.id FROM sessions s WHERE s.id = e.session_id),
       e.action, e.severity::audit_severity, e.resource_type, e.resource_id,
       (SELECT u.id FROM users u WHERE u.id = e.patient_id),
       e.ip_address, e.user_agent, e.outcome::audit_outcome, e.details
FROM (SELECT 0 AS part, seq AS n, id, occurred_at, user_id, session_id, action, severity, resource_type,
             resource_id, patient_id, ip_address, user_agent, outcome, details FROM audit_logs
      UNION ALL
      SELECT 1, queued, id, occurred_at, user_id, session_id, action, severity::text, resource_type,
             resource_id, patient_id, ip_address, user_agent, outcome::text, details FROM audit_queue) e
ORDER BY e.part, e.n;

-- Dropping the chain is the one time its rows go: the triggers that refuse it go first.
DROP TABLE audit_logs;
DROP TABLE audit_queue;
DROP FUNCTION hsc_audit_partition(timestamptz);
DROP FUNCTION hsc_audit_queue_guard();
DROP FUNCTION hsc_audit_append_only();

-- Constraint names follow the table's first name; give them the names 0006 gave them.
ALTER TABLE audit_logs_unchained RENAME TO audit_logs;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_unchained_pkey TO audit_logs_pkey;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_unchained_seq_key TO audit_logs_seq_key;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_unchained_user_id_fkey TO audit_logs_user_id_fkey;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_unchained_session_id_fkey TO audit_logs_session_id_fkey;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_unchained_patient_id_fkey TO audit_logs_patient_id_fkey;
ALTER TABLE audit_logs RENAME CONSTRAINT audit_logs_unchained_action_check TO audit_logs_action_check;
ALTER SEQUENCE audit_logs_unchained_seq_seq RENAME TO audit_logs_seq_seq;
CREATE INDEX audit_logs_time_idx ON audit_logs (occurred_at DESC, seq DESC);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, seq DESC);
CREATE INDEX audit_logs_patient_idx ON audit_logs (patient_id, seq DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, seq DESC);
CREATE INDEX audit_logs_severity_idx ON audit_logs (severity, seq DESC);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_id, seq DESC);
GRANT SELECT, INSERT ON audit_logs TO hsc_app;

ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON audit_logs TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY audit_append ON audit_logs FOR INSERT TO hsc_app WITH CHECK (
    user_id = (SELECT hsc_acting_user())
    OR ((SELECT hsc_acting_user()) IS NULL
        AND (user_id IS NULL OR user_id = (SELECT hsc_signing_in_user())))
);
CREATE POLICY audit_read ON audit_logs FOR SELECT TO hsc_app USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'admin' THEN true
        -- "Who looked at my chart": accesses to the patient's own records.
        WHEN 'patient' THEN patient_id = (SELECT hsc_acting_user()) AND resource_type = 'medical_record'
        WHEN 'medical_records' THEN resource_type = 'medical_record'
        ELSE false
    END
);
