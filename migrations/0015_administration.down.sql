-- Back to 0014: the guard of 0012, no administration by the application role.
CREATE OR REPLACE FUNCTION hsc_guard_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'hsc_app' THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'users' THEN
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
        IF OLD.status <> 'ACTIVE' THEN
            RAISE EXCEPTION 'a revoked or expired grant cannot change' USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.status = 'REVOKED' THEN
            IF NEW.expires_at <> OLD.expires_at THEN
                RAISE EXCEPTION 'a revocation does not change the expiry' USING ERRCODE = 'check_violation';
            END IF;
            IF OLD.expires_at <= now() THEN
                RAISE EXCEPTION 'an expired grant cannot be revoked' USING ERRCODE = 'check_violation';
            END IF;
            IF length(btrim(coalesce(NEW.revocation_reason, ''))) < 5 OR length(NEW.revocation_reason) > 500 THEN
                RAISE EXCEPTION 'a revocation needs a reason of 5 to 500 characters' USING ERRCODE = 'check_violation';
            END IF;
            NEW.revoked_at := now();
            NEW.revoked_by := hsc_acting_user();
        ELSIF NEW.revoked_at IS NOT NULL OR NEW.revoked_by IS NOT NULL OR NEW.revocation_reason IS NOT NULL THEN
            RAISE EXCEPTION 'only a revocation records who revoked' USING ERRCODE = 'check_violation';
        ELSIF NEW.status = 'EXPIRED' THEN
            IF OLD.expires_at > now() OR NEW.expires_at <> OLD.expires_at THEN
                RAISE EXCEPTION 'a grant is marked expired only once its expiry has passed' USING ERRCODE = 'check_violation';
            END IF;
        ELSIF NEW.expires_at <> OLD.expires_at THEN
            IF OLD.expires_at <= now() THEN
                RAISE EXCEPTION 'an expired grant cannot be extended' USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.expires_at <= now() OR NEW.expires_at > hsc_grant_ceiling() THEN
                RAISE EXCEPTION 'a grant''s expiry must stay in the future, within the ceiling' USING ERRCODE = 'check_violation';
            END IF;
            IF OLD.is_emergency THEN
                RAISE EXCEPTION 'emergency access keeps its hour; revoke it to end it sooner' USING ERRCODE = 'check_violation';
            END IF;
        END IF;
    ELSIF TG_TABLE_NAME = 'medical_records' THEN
        IF NEW.version <> OLD.version + 1 THEN
            RAISE EXCEPTION 'a record changes one version at a time' USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

DROP FUNCTION hsc_reset_mfa(uuid);
DROP FUNCTION hsc_remove_mfa(uuid);

DROP INDEX sessions_active_created_idx;
DROP POLICY sessions_administer_end ON sessions;
DROP POLICY sessions_administer_read ON sessions;

DROP INDEX users_created_idx;
DROP POLICY users_administer ON users;
REVOKE UPDATE (is_active, role) ON users FROM hsc_app;
DROP POLICY users_create ON users;
-- Revoking the table privilege takes the column privileges with it.
REVOKE INSERT ON users FROM hsc_app;
GRANT INSERT ON users TO hsc_app;
