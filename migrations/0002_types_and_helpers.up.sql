-- Fixed vocabularies of the clinic (names from the user's guide).
CREATE TYPE user_role AS ENUM ('admin', 'physician', 'nurse', 'patient', 'billing_staff', 'medical_records');
CREATE TYPE record_type AS ENUM (
    'consultation', 'diagnosis', 'treatment', 'lab_result', 'imaging', 'prescription', 'surgery', 'emergency', 'other'
);
CREATE TYPE record_status AS ENUM ('active', 'archived', 'deleted');
CREATE TYPE access_level AS ENUM ('READ', 'READ_WRITE');
CREATE TYPE grant_status AS ENUM ('ACTIVE', 'REVOKED', 'EXPIRED');
CREATE TYPE grant_scope AS ENUM ('ALL_RECORDS', 'SELECTED_RECORDS');
CREATE TYPE audit_severity AS ENUM ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL');
CREATE TYPE audit_outcome AS ENUM ('success', 'denied', 'failed');

-- Keeps updated_at true whoever writes the row, and created_at as it was.
CREATE FUNCTION hsc_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := OLD.created_at;
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;
