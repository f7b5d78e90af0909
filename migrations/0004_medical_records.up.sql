-- Title, description and metadata are keyring ciphertext (AES-256-GCM, bound to table, column, row
-- id and version); PostgreSQL never sees them in the clear.
CREATE TABLE medical_records (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id uuid NOT NULL REFERENCES users (id),
    provider_id uuid NOT NULL REFERENCES users (id),
    created_by uuid NOT NULL REFERENCES users (id),
    updated_by uuid NOT NULL REFERENCES users (id),
    record_type record_type NOT NULL,
    title bytea NOT NULL,
    description bytea NOT NULL,
    metadata bytea NOT NULL,
    status record_status NOT NULL DEFAULT 'active',
    record_date date NOT NULL,
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- The browser lists newest first along each access path (keyset on record_date, id).
CREATE INDEX medical_records_patient_idx ON medical_records (patient_id, record_date DESC, id DESC);
CREATE INDEX medical_records_provider_idx ON medical_records (provider_id, record_date DESC, id DESC);
CREATE INDEX medical_records_creator_idx ON medical_records (created_by, record_date DESC, id DESC);
CREATE INDEX medical_records_date_idx ON medical_records (record_date DESC, id DESC);
CREATE INDEX medical_records_type_idx ON medical_records (record_type, record_date DESC, id DESC);
CREATE TRIGGER medical_records_touch BEFORE UPDATE ON medical_records FOR EACH ROW EXECUTE FUNCTION hsc_touch_updated_at();

-- Every version of every record, the current one included, so any version can be read back.
CREATE TABLE record_versions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    record_id uuid NOT NULL REFERENCES medical_records (id),
    version integer NOT NULL CHECK (version >= 1),
    patient_id uuid NOT NULL REFERENCES users (id),
    provider_id uuid NOT NULL REFERENCES users (id),
    record_type record_type NOT NULL,
    title bytea NOT NULL,
    description bytea NOT NULL,
    metadata bytea NOT NULL,
    status record_status NOT NULL,
    record_date date NOT NULL,
    changed_by uuid NOT NULL REFERENCES users (id),
    changed_at timestamptz NOT NULL DEFAULT now(),
    -- Why it changed (required from version 2 on); sealed like the content, since it may describe care.
    change_reason bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (record_id, version),
    CHECK (version = 1 OR change_reason IS NOT NULL)
);
CREATE INDEX record_versions_changed_by_idx ON record_versions (changed_by);

GRANT SELECT, INSERT, UPDATE ON medical_records TO hsc_app;
GRANT SELECT, INSERT ON record_versions TO hsc_app;
