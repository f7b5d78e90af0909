-- One row per event, written in the same transaction as what it describes. The application role may
-- only add and read rows. details never holds PHI content.
CREATE TABLE audit_logs (
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
-- The viewer pages newest first under each filter.
CREATE INDEX audit_logs_time_idx ON audit_logs (occurred_at DESC, seq DESC);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, seq DESC);
CREATE INDEX audit_logs_patient_idx ON audit_logs (patient_id, seq DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, seq DESC);
CREATE INDEX audit_logs_severity_idx ON audit_logs (severity, seq DESC);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_id, seq DESC);

GRANT SELECT, INSERT ON audit_logs TO hsc_app;
