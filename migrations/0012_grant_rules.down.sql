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
        WHEN 'medical_records' THEN hsc_grant_covers(patient_id, record_id, false)
        ELSE false
    END
);

DROP TRIGGER access_grants_no_overlap ON access_grants;
DROP FUNCTION hsc_refuse_overlap();
DROP FUNCTION hsc_overlapping_grant(uuid);
DROP FUNCTION hsc_lock_grant_pair(uuid, uuid);
DROP INDEX access_grants_grantee_expiry_idx;

GRANT DELETE ON access_grant_records TO hsc_app;
CREATE POLICY grant_records_remove ON access_grant_records FOR DELETE TO hsc_app USING (
    (SELECT hsc_acting_role()) IN ('patient', 'medical_records')
    AND EXISTS (SELECT 1 FROM access_grants g WHERE g.id = grant_id)
);
ALTER POLICY grant_records_add ON access_grant_records WITH CHECK (
    (SELECT hsc_acting_role()) IN ('patient', 'medical_records')
    AND EXISTS (
        SELECT 1 FROM access_grants g JOIN medical_records m ON m.patient_id = g.patient_id
        WHERE g.id = grant_id AND m.id = record_id
    )
);
DROP POLICY grants_expire ON access_grants;
ALTER POLICY grants_create ON access_grants WITH CHECK (
    granted_by = (SELECT hsc_acting_user())
    AND status = 'ACTIVE'
    AND expires_at > now()
    AND EXISTS (SELECT 1 FROM users p WHERE p.id = patient_id AND p.role = 'patient')
    AND CASE (SELECT hsc_acting_role())
        WHEN 'patient' THEN patient_id = (SELECT hsc_acting_user()) AND NOT is_emergency
                            AND grantee_id <> (SELECT hsc_acting_user())
                            AND EXISTS (SELECT 1 FROM users u WHERE u.id = grantee_id
                                        AND u.role IN ('physician', 'nurse', 'medical_records'))
        WHEN 'medical_records' THEN NOT is_emergency
                                    AND grantee_id <> (SELECT hsc_acting_user())
                                    AND EXISTS (SELECT 1 FROM users u WHERE u.id = grantee_id
                                                AND u.role IN ('physician', 'nurse', 'medical_records'))
        WHEN 'physician' THEN is_emergency AND grantee_id = (SELECT hsc_acting_user())
                              AND expires_at <= now() + interval '1 hour'
        WHEN 'nurse' THEN is_emergency AND grantee_id = (SELECT hsc_acting_user())
                          AND expires_at <= now() + interval '1 hour'
        ELSE false
    END
);
DROP FUNCTION hsc_is_clinician(uuid);
DROP FUNCTION hsc_grant_ceiling();

-- The guard as 0010 left it.
CREATE OR REPLACE FUNCTION hsc_guard_change() RETURNS trigger
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
