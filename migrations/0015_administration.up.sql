-- Administration from the console (tab 4): admins create users, deactivate and reactivate them,
-- change roles, reset passwords, lift lockouts, reset MFA, and see and end anyone's sessions. Until
-- now only the command line (as the schema owner) could; here the application role may, for an
-- acting admin only, and the guard trigger holds the rules no policy can express: nobody changes
-- their own role or activation, the last active admin stays, and a password an admin sets must be
-- changed at the next sign-in.

-- ---------------------------------------------------------------------------------------------
-- users: an admin inserts accounts (only these columns; the rest take their defaults: active, no
-- MFA, no failures) that must change their password at the first sign-in.
REVOKE INSERT ON users FROM hsc_app;
GRANT INSERT (id, email, password_hash, first_name, last_name, role, requires_password_change,
              last_password_change_at) ON users TO hsc_app;
CREATE POLICY users_create ON users FOR INSERT TO hsc_app WITH CHECK (
    (SELECT hsc_acting_role()) = 'admin' AND requires_password_change
);

-- An admin updates anyone's row, within the columns the role may update at all (0010 plus these
-- two) and the transitions the guard below allows.
GRANT UPDATE (is_active, role) ON users TO hsc_app;
CREATE POLICY users_administer ON users FOR UPDATE TO hsc_app
USING ((SELECT hsc_acting_role()) = 'admin')
WITH CHECK ((SELECT hsc_acting_role()) = 'admin');

-- The admin list pages newest account first.
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- ---------------------------------------------------------------------------------------------
-- sessions: an admin sees everyone's and may end them (an ended row only: a session of someone
-- else is never kept alive or touched).
CREATE POLICY sessions_administer_read ON sessions FOR SELECT TO hsc_app
USING ((SELECT hsc_acting_role()) = 'admin');
CREATE POLICY sessions_administer_end ON sessions FOR UPDATE TO hsc_app
USING ((SELECT hsc_acting_role()) = 'admin')
WITH CHECK ((SELECT hsc_acting_role()) = 'admin' AND NOT is_active AND revoked_at IS NOT NULL);

-- The admin list of live sessions, newest first.
CREATE INDEX sessions_active_created_idx ON sessions (created_at DESC, id DESC) WHERE is_active;

-- ---------------------------------------------------------------------------------------------
-- MFA reset: removes every device and backup code of `target` and turns the flag off; returns how
-- many devices it removed. The schema owner's own (`hsc user reset-mfa`); the application role
-- reaches it only through hsc_reset_mfa.
CREATE FUNCTION hsc_remove_mfa(target uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
DECLARE
    removed integer;
BEGIN
    DELETE FROM mfa_devices d WHERE d.user_id = target;
    GET DIAGNOSTICS removed = ROW_COUNT;
    DELETE FROM mfa_backup_codes c WHERE c.user_id = target;
    UPDATE users u SET mfa_enabled = false WHERE u.id = target AND u.mfa_enabled;
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION hsc_remove_mfa(uuid) FROM PUBLIC;

-- The role never reads or deletes another user's devices (their sealed secrets stay out of an
-- admin's reach): this one function resets them for an acting admin, who may not use it on
-- themself (their own devices go from their device list, with their password and a code).
CREATE FUNCTION hsc_reset_mfa(target uuid) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF hsc_acting_role() <> 'admin' THEN
        RAISE EXCEPTION 'only an admin resets another user''s MFA' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF target = hsc_acting_user() THEN
        RAISE EXCEPTION 'an admin removes their own devices from their device list' USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM users u WHERE u.id = target AND u.deleted_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user %', target USING ERRCODE = 'no_data_found';
    END IF;
    RETURN hsc_remove_mfa(target);
END
$$;
REVOKE ALL ON FUNCTION hsc_reset_mfa(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hsc_reset_mfa(uuid) TO hsc_app;

-- ---------------------------------------------------------------------------------------------
-- The guard of 0012 with the users rules of administration:
-- * before the password is checked, sign-in still only counts failures and locks;
-- * role and activation change only by an admin, never their own, and never so that no active
--   admin is left: such changes take one advisory lock and then look at the committed admins afresh
--   (READ COMMITTED: each statement of this function has a new snapshot), so two admins demoting
--   each other at once cannot both succeed;
-- * requires_password_change: an admin sets or clears it on others; a user clears their own only
--   together with a new password;
-- * on someone else's row an admin changes no sign-in time and no MFA flag (hsc_reset_mfa does
--   that), and a password they set is always one to change at the next sign-in;
-- * nobody touches another user's session except to end it.
CREATE OR REPLACE FUNCTION hsc_guard_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    me uuid;
BEGIN
    IF current_user <> 'hsc_app' THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'users' THEN
        me := hsc_acting_user();
        IF me IS NULL THEN
            IF NEW.password_hash IS DISTINCT FROM OLD.password_hash
               OR NEW.last_login_at IS DISTINCT FROM OLD.last_login_at
               OR NEW.last_password_change_at IS DISTINCT FROM OLD.last_password_change_at
               OR NEW.requires_password_change IS DISTINCT FROM OLD.requires_password_change
               OR NEW.mfa_enabled IS DISTINCT FROM OLD.mfa_enabled
               OR NEW.role IS DISTINCT FROM OLD.role
               OR NEW.is_active IS DISTINCT FROM OLD.is_active THEN
                RAISE EXCEPTION 'sign-in may only count failed attempts' USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END IF;
        IF NEW.role IS DISTINCT FROM OLD.role OR NEW.is_active IS DISTINCT FROM OLD.is_active THEN
            IF OLD.id = me THEN
                RAISE EXCEPTION 'nobody changes their own role or activation' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF hsc_acting_role() <> 'admin' THEN
                RAISE EXCEPTION 'only an admin changes a role or an activation' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF OLD.role = 'admin' AND OLD.is_active AND OLD.deleted_at IS NULL
               AND (NEW.role <> 'admin' OR NOT NEW.is_active) THEN
                IF current_setting('transaction_isolation') = 'repeatable read' THEN
                    RAISE EXCEPTION 'admins are demoted or deactivated under READ COMMITTED or SERIALIZABLE'
                        USING ERRCODE = 'invalid_transaction_state';
                END IF;
                PERFORM pg_advisory_xact_lock(hashtextextended('hsc active admins', 0));
                IF NOT EXISTS (SELECT 1 FROM users u
                               WHERE u.role = 'admin' AND u.is_active AND u.deleted_at IS NULL AND u.id <> OLD.id) THEN
                    RAISE EXCEPTION 'the last active admin cannot be deactivated or demoted' USING ERRCODE = 'check_violation';
                END IF;
            END IF;
        END IF;
        IF NEW.requires_password_change IS DISTINCT FROM OLD.requires_password_change AND OLD.id = me
           AND (NEW.requires_password_change OR NEW.password_hash IS NOT DISTINCT FROM OLD.password_hash) THEN
            RAISE EXCEPTION 'a required password change is cleared only by changing the password'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF OLD.id <> me THEN
            IF hsc_acting_role() <> 'admin' THEN
                RAISE EXCEPTION 'only an admin changes another user' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NEW.mfa_enabled IS DISTINCT FROM OLD.mfa_enabled OR NEW.last_login_at IS DISTINCT FROM OLD.last_login_at THEN
                RAISE EXCEPTION 'another user''s MFA is reset with hsc_reset_mfa, and their sign-in times are their own'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NEW.password_hash IS DISTINCT FROM OLD.password_hash AND NOT NEW.requires_password_change THEN
                RAISE EXCEPTION 'a password an admin sets must be changed at the next sign-in' USING ERRCODE = 'check_violation';
            END IF;
        END IF;
    ELSIF TG_TABLE_NAME = 'sessions' THEN
        IF NOT OLD.is_active AND NEW.is_active THEN
            RAISE EXCEPTION 'an ended session cannot be resumed' USING ERRCODE = 'check_violation';
        END IF;
        IF OLD.user_id IS DISTINCT FROM hsc_acting_user() AND NEW.last_activity_at IS DISTINCT FROM OLD.last_activity_at THEN
            RAISE EXCEPTION 'another user''s session is only ended, never touched' USING ERRCODE = 'insufficient_privilege';
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
