CREATE TABLE access_grants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id uuid NOT NULL REFERENCES users (id),
    grantee_id uuid NOT NULL REFERENCES users (id),
    -- ALL_RECORDS covers every record of the patient; SELECTED_RECORDS those in access_grant_records.
    scope grant_scope NOT NULL,
    access_level access_level NOT NULL,
    status grant_status NOT NULL DEFAULT 'ACTIVE',
    expires_at timestamptz NOT NULL,
    granted_by uuid NOT NULL REFERENCES users (id),
    revoked_at timestamptz,
    revoked_by uuid REFERENCES users (id),
    revocation_reason text,
    is_emergency boolean NOT NULL DEFAULT false,
    emergency_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (patient_id <> grantee_id),
    CHECK (NOT is_emergency OR length(emergency_reason) >= 10),
    CHECK (status <> 'REVOKED' OR (revoked_at IS NOT NULL AND revoked_by IS NOT NULL AND revocation_reason IS NOT NULL))
);
-- A clinician's incoming grants (access checks, "my grants"); a patient's grants; the list sorted by expiry.
CREATE INDEX access_grants_grantee_idx ON access_grants (grantee_id, patient_id, expires_at) WHERE status = 'ACTIVE';
CREATE INDEX access_grants_patient_idx ON access_grants (patient_id, expires_at, id);
CREATE INDEX access_grants_expiry_idx ON access_grants (expires_at, id);
CREATE INDEX access_grants_status_idx ON access_grants (status, expires_at, id);
CREATE INDEX access_grants_emergency_idx ON access_grants (expires_at, id) WHERE is_emergency;
CREATE TRIGGER access_grants_touch BEFORE UPDATE ON access_grants FOR EACH ROW EXECUTE FUNCTION hsc_touch_updated_at();

CREATE TABLE access_grant_records (
    grant_id uuid NOT NULL REFERENCES access_grants (id) ON DELETE CASCADE,
    record_id uuid NOT NULL REFERENCES medical_records (id),
    PRIMARY KEY (grant_id, record_id)
);
CREATE INDEX access_grant_records_record_idx ON access_grant_records (record_id);

GRANT SELECT, INSERT, UPDATE ON access_grants TO hsc_app;
GRANT SELECT, INSERT, DELETE ON access_grant_records TO hsc_app;
