-- The grant editor's rules, held by the database as well as by the service (SPEC "Who may do
-- what"): grants go to active physicians and nurses only; no two active grants of one patient to one
-- grantee cover the same record; a grant that is no longer active never changes again; an expired
-- grant is marked EXPIRED by whoever sees it; and a grant's scope is fixed when it is created.

-- Whether `person` is an active physician or nurse (as far as the acting user may see them).
CREATE FUNCTION hsc_is_clinician(person uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT 1 FROM users u
        WHERE u.id = person AND u.role IN ('physician', 'nurse') AND u.is_active AND u.deleted_at IS NULL
    )
$$;
REVOKE ALL ON FUNCTION hsc_is_clinician(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hsc_is_clinician(uuid) TO hsc_app;

-- The furthest ahead any grant may run, whatever the console is configured to allow
-- (HSC_GRANT_MAX_DAYS may be at most this): the database's own ceiling.
CREATE FUNCTION hsc_grant_ceiling() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT now() + interval '3661 days'
$$;
REVOKE ALL ON FUNCTION hsc_grant_ceiling() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hsc_grant_ceiling() TO hsc_app;

-- Patients grant on their own records, records staff on anyone's, always to an active physician or
-- nurse, until a time below the ceiling, and never with revocation details filled in; the row is
-- created now (its created_at is the transaction's, which is how access_grant_records knows a grant
-- is new). A clinician creates only their own break-glass grant, for at most an hour.
ALTER POLICY grants_create ON access_grants WITH CHECK (
    granted_by = (SELECT hsc_acting_user())
    AND status = 'ACTIVE'
    AND expires_at > now()
    AND expires_at <= hsc_grant_ceiling()
    AND created_at = now()
    AND revoked_at IS NULL AND revoked_by IS NULL AND revocation_reason IS NULL
    AND EXISTS (SELECT 1 FROM users p WHERE p.id = patient_id AND p.role = 'patient')
    AND CASE (SELECT hsc_acting_role())
        WHEN 'patient' THEN patient_id = (SELECT hsc_acting_user()) AND NOT is_emergency
                            AND hsc_is_clinician(grantee_id)
        WHEN 'medical_records' THEN NOT is_emergency AND hsc_is_clinician(grantee_id)
        WHEN 'physician' THEN is_emergency AND grantee_id = (SELECT hsc_acting_user())
                              AND expires_at <= now() + interval '1 hour'
        WHEN 'nurse' THEN is_emergency AND grantee_id = (SELECT hsc_acting_user())
                          AND expires_at <= now() + interval '1 hour'
        ELSE false
    END
);

-- A grantee may mark their own grant EXPIRED once its time has passed (the guard below allows
-- nothing else through this policy), so a clinician's own grant list can be brought up to date.
CREATE POLICY grants_expire ON access_grants FOR UPDATE TO hsc_app
USING ((SELECT hsc_acting_role()) IN ('physician', 'nurse') AND grantee_id = (SELECT hsc_acting_user()))
WITH CHECK (grantee_id = (SELECT hsc_acting_user()) AND status = 'EXPIRED');

-- A grant's records are listed only by the transaction that creates the grant, and never removed:
-- scope is fixed; changing it means revoking and granting anew.
ALTER POLICY grant_records_add ON access_grant_records WITH CHECK (
    (SELECT hsc_acting_role()) IN ('patient', 'medical_records')
    AND EXISTS (
        SELECT 1 FROM access_grants g JOIN medical_records m ON m.patient_id = g.patient_id
        WHERE g.id = grant_id AND m.id = record_id
          AND g.granted_by = (SELECT hsc_acting_user()) AND g.created_at = now()
    )
);
DROP POLICY grant_records_remove ON access_grant_records;
REVOKE DELETE ON access_grant_records FROM hsc_app;

-- The list filters by grantee and sorts by expiry.
CREATE INDEX access_grants_grantee_expiry_idx ON access_grants (grantee_id, expires_at, id);

-- Serializes the creation of grants of one patient to one grantee, so two at once cannot both pass
-- the overlap check.
CREATE FUNCTION hsc_lock_grant_pair(patient uuid, grantee uuid) RETURNS void
LANGUAGE sql VOLATILE AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('hsc grant ' || patient::text || ' ' || grantee::text, 0))
$$;
REVOKE ALL ON FUNCTION hsc_lock_grant_pair(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hsc_lock_grant_pair(uuid, uuid) TO hsc_app;

-- The active grant that a grant created in this transaction by the acting user overlaps: same patient
-- and grantee, not expired, and covering a record in common (a whole-chart grant covers them all).
-- Emergency access stands apart from ordinary grants and is not compared. It sees every grant
-- (SECURITY DEFINER), but answers only about the caller's own new grant.
CREATE FUNCTION hsc_overlapping_grant(new_grant uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT o.id FROM access_grants n
    JOIN access_grants o ON o.patient_id = n.patient_id AND o.grantee_id = n.grantee_id AND o.id <> n.id
    WHERE n.id = new_grant
      AND n.granted_by = hsc_acting_user() AND n.created_at = now()
      AND n.status = 'ACTIVE' AND NOT n.is_emergency
      AND o.status = 'ACTIVE' AND o.expires_at > now() AND NOT o.is_emergency
      AND (n.scope = 'ALL_RECORDS' OR o.scope = 'ALL_RECORDS'
           OR EXISTS (SELECT 1 FROM access_grant_records a
                      JOIN access_grant_records b ON b.record_id = a.record_id
                      WHERE a.grant_id = n.id AND b.grant_id = o.id))
    ORDER BY o.expires_at, o.id
    LIMIT 1
$$;
REVOKE ALL ON FUNCTION hsc_overlapping_grant(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hsc_overlapping_grant(uuid) TO hsc_app;

-- The net under the service's own checks, at commit, once the grant's records are all listed: a
-- chosen-records grant lists at least one, and no active grant overlaps it. The check sees grants
-- committed while it waited for the lock only under READ COMMITTED (each statement a new snapshot),
-- so it refuses to run under REPEATABLE READ, where it could miss one.
CREATE FUNCTION hsc_refuse_overlap() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    existing uuid;
BEGIN
    IF current_user <> 'hsc_app' THEN
        RETURN NULL;
    END IF;
    IF NEW.scope = 'SELECTED_RECORDS'
       AND NOT EXISTS (SELECT 1 FROM access_grant_records r WHERE r.grant_id = NEW.id) THEN
        RAISE EXCEPTION 'a grant on chosen records lists at least one' USING ERRCODE = 'check_violation';
    END IF;
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION 'grants are created under READ COMMITTED or SERIALIZABLE'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM hsc_lock_grant_pair(NEW.patient_id, NEW.grantee_id);
    existing := hsc_overlapping_grant(NEW.id);
    IF existing IS NOT NULL THEN
        RAISE EXCEPTION 'grant % overlaps active grant %', NEW.id, existing USING ERRCODE = 'exclusion_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER access_grants_no_overlap AFTER INSERT ON access_grants
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hsc_refuse_overlap();

-- The guard of 0010, with the grant rules tightened: only an ACTIVE grant changes, and then only by
-- being revoked while it still runs (stamped now, by the acting user, with a reason of 5 to 500
-- characters), re-timed while still running (never into the past nor beyond the ceiling; emergency
-- access never re-timed), or marked EXPIRED once its expiry has passed.
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

-- Records staff read no record content: grants go to physicians and nurses only, so the content
-- policy no longer asks whether a grant covers a records officer (one made before this migration
-- opens nothing).
ALTER POLICY versions_read ON record_versions USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'patient' THEN EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'physician' THEN provider_id = (SELECT hsc_acting_user())
                              OR patient_id::text = ANY ((SELECT hsc_granted_patients(false))::text[])
                              OR record_id::text = ANY ((SELECT hsc_granted_records(false))::text[])
                              OR EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'nurse' THEN provider_id = (SELECT hsc_acting_user())
                          OR patient_id::text = ANY ((SELECT hsc_granted_patients(false))::text[])
                          OR record_id::text = ANY ((SELECT hsc_granted_records(false))::text[])
                          OR EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        ELSE false
    END
);
