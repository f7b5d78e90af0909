-- What the application role may change, column by column, and the transitions no policy can express.
-- Row-level security says which rows; these say which columns and which changes, so a bug in the
-- console (or a query typed under hsc_app) cannot promote a user, forge a grant, rewrite a record
-- without its version, or revive a revoked session.

-- users: the console changes sign-in bookkeeping, the password and the MFA flag — never role, email,
-- activation or identity. It does not read password hashes at all: hsc_password_hash() returns the
-- acting (or signing-in) user's own.
REVOKE SELECT, UPDATE ON users FROM hsc_app;
GRANT SELECT (id, email, first_name, last_name, role, is_active, mfa_enabled, failed_login_attempts, locked_until,
              last_login_at, last_password_change_at, requires_password_change, license_number, npi,
              specialization, deleted_at, created_at, updated_at) ON users TO hsc_app;
GRANT UPDATE (failed_login_attempts, locked_until, last_login_at, password_hash, last_password_change_at,
              requires_password_change, mfa_enabled) ON users TO hsc_app;

CREATE FUNCTION hsc_password_hash() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.password_hash FROM users u
    WHERE u.id = coalesce(hsc_acting_user(), hsc_signing_in_user())
$$;
REVOKE ALL ON FUNCTION hsc_password_hash() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hsc_password_hash() TO hsc_app;

-- sessions: activity and ending only; an ended session stays ended.
REVOKE UPDATE ON sessions FROM hsc_app;
GRANT UPDATE (last_activity_at, is_active, revoked_at, revoked_reason) ON sessions TO hsc_app;

-- access_grants: status, expiry and revocation only.
REVOKE UPDATE ON access_grants FROM hsc_app;
GRANT UPDATE (status, expires_at, revoked_at, revoked_by, revocation_reason) ON access_grants TO hsc_app;

CREATE FUNCTION hsc_guard_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Maintenance (the owner) may repair anything; the rules are for the application role. (Each
    -- table's fields are read only inside its own branch: plpgsql resolves NEW.x when it evaluates.)
    IF current_user <> 'hsc_app' THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'users' THEN
        -- Before the password is checked, sign-in may only count failures and lock the account.
        IF hsc_acting_user() IS NULL
           AND (NEW.password_hash IS DISTINCT FROM OLD.password_hash
                OR NEW.last_login_at IS DISTINCT FROM OLD.last_login_at
                OR NEW.last_password_change_at IS DISTINCT FROM OLD.last_password_change_at
                OR NEW.requires_password_change IS DISTINCT FROM OLD.requires_password_change
                OR NEW.mfa_enabled IS DISTINCT FROM OLD.mfa_enabled) THEN
            RAISE EXCEPTION 'sign-in may only count failed attempts' USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF TG_TABLE_NAME = 'sessions' THEN
        IF NOT OLD.is_active AND NEW.is_active THEN
            RAISE EXCEPTION 'an ended session cannot be resumed' USING ERRCODE = 'check_violation';
        END IF;
    ELSIF TG_TABLE_NAME = 'access_grants' THEN
        IF OLD.status <> 'ACTIVE' AND NEW.status = 'ACTIVE' THEN
            RAISE EXCEPTION 'a revoked or expired grant cannot be made active again' USING ERRCODE = 'check_violation';
        END IF;
        IF OLD.is_emergency AND NEW.expires_at > OLD.expires_at THEN
            RAISE EXCEPTION 'emergency access cannot be extended' USING ERRCODE = 'check_violation';
        END IF;
    ELSIF TG_TABLE_NAME = 'medical_records' THEN
        IF NEW.version <> OLD.version + 1 THEN
            RAISE EXCEPTION 'a record changes one version at a time' USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_guard BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION hsc_guard_change();
CREATE TRIGGER sessions_guard BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION hsc_guard_change();
CREATE TRIGGER access_grants_guard BEFORE UPDATE ON access_grants FOR EACH ROW EXECUTE FUNCTION hsc_guard_change();
CREATE TRIGGER medical_records_guard BEFORE UPDATE ON medical_records FOR EACH ROW EXECUTE FUNCTION hsc_guard_change();

-- Every version a record reaches under the application role has its row in record_versions by the
-- end of the transaction: content is never rewritten without its history.
CREATE FUNCTION hsc_require_version_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_user = 'hsc_app'
       AND NOT EXISTS (SELECT 1 FROM record_versions v WHERE v.record_id = NEW.id AND v.version = NEW.version) THEN
        RAISE EXCEPTION 'record version % has no version row', NEW.version USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER medical_records_version_row AFTER INSERT OR UPDATE ON medical_records
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hsc_require_version_row();
