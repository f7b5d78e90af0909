CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
    password_hash text NOT NULL,
    first_name text NOT NULL CHECK (length(first_name) BETWEEN 1 AND 100),
    last_name text NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
    role user_role NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    mfa_enabled boolean NOT NULL DEFAULT false,
    failed_login_attempts integer NOT NULL DEFAULT 0 CHECK (failed_login_attempts >= 0),
    locked_until timestamptz,
    last_login_at timestamptz,
    last_password_change_at timestamptz,
    requires_password_change boolean NOT NULL DEFAULT false,
    license_number text,
    npi text CHECK (npi ~ '^[0-9]{10}$'),
    specialization text,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Email is unique whatever its case.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
-- Admin user list filtered by role; as-you-type user search by name.
CREATE INDEX users_role_idx ON users (role, last_name, first_name) WHERE deleted_at IS NULL;
CREATE INDEX users_name_idx ON users (lower(last_name), lower(first_name));
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION hsc_touch_updated_at();

CREATE TABLE sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    -- Only the SHA-256 of the session token is stored.
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    expires_at timestamptz NOT NULL,
    ip_address text NOT NULL DEFAULT 'local',
    user_agent text,
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    is_active boolean NOT NULL DEFAULT true,
    revoked_at timestamptz,
    revoked_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- A user's active sessions (limit, admin list); expired-session cleanup.
CREATE INDEX sessions_user_active_idx ON sessions (user_id, created_at) WHERE is_active;
CREATE INDEX sessions_expiry_idx ON sessions (expires_at) WHERE is_active;
CREATE TRIGGER sessions_touch BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION hsc_touch_updated_at();

CREATE TABLE mfa_devices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    device_name text NOT NULL CHECK (length(device_name) BETWEEN 1 AND 64),
    -- The TOTP secret, sealed by the keyring.
    secret_ciphertext bytea NOT NULL,
    is_verified boolean NOT NULL DEFAULT false,
    verified_at timestamptz,
    is_active boolean NOT NULL DEFAULT true,
    is_primary boolean NOT NULL DEFAULT false,
    last_used_at timestamptz,
    -- The last accepted TOTP time step: a code is accepted at most once.
    last_used_step bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_devices_user_idx ON mfa_devices (user_id);
CREATE UNIQUE INDEX mfa_devices_one_primary ON mfa_devices (user_id) WHERE is_primary AND is_active;
CREATE TRIGGER mfa_devices_touch BEFORE UPDATE ON mfa_devices FOR EACH ROW EXECUTE FUNCTION hsc_touch_updated_at();

CREATE TABLE mfa_backup_codes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    -- Hashed; a code is shown once, when it is made.
    code_hash text NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mfa_backup_codes_user_idx ON mfa_backup_codes (user_id) WHERE used_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON users TO hsc_app;
GRANT SELECT, INSERT, UPDATE ON sessions TO hsc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_devices TO hsc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_backup_codes TO hsc_app;
