-- Row-level security: PostgreSQL itself decides which rows each acting user sees (SPEC "Who may do
-- what"). Console transactions run as hsc_app with the acting user set per transaction through
-- hsc_set_actor; a query that forgot the context sees no row of any table below.
--
-- Every policy is `TO hsc_app`. The login role that owns the tables gets one explicit policy of its
-- own (`maintenance`): FORCE makes the owner subject to row security too, and seeding, key rotation
-- and the administrative commands must see every row. A superuser bypasses row security anyway; the
-- guarantee is that nothing running as hsc_app ever does.

-- Who the transaction acts for. Written `(SELECT hsc_acting_user())` in policies so PostgreSQL
-- evaluates it once per statement (an InitPlan), not once per row.
CREATE FUNCTION hsc_acting_user() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('app.user_id', true), '')::uuid
$$;

-- The acting user's role, as read from their own users row by hsc_set_actor. Empty when there is
-- no acting user, or the account is deactivated: then every role-based policy answers no.
CREATE FUNCTION hsc_acting_role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('app.user_role', true), '')
$$;

-- Sets the transaction's acting user (NULL: nobody) and, for the sign-in step only, the one email
-- whose account may be read before anyone is signed in. Runs as the caller, so under hsc_app the
-- role lookup itself goes through the users policy (a user always sees their own row).
CREATE FUNCTION hsc_set_actor(acting uuid, sign_in_email text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.user_id', coalesce(acting::text, ''), true);
    PERFORM set_config('app.user_role', '', true);
    PERFORM set_config('app.sign_in_email', CASE WHEN acting IS NULL THEN coalesce(lower(sign_in_email), '') ELSE '' END, true);
    PERFORM set_config('app.granted_patients', '{}', true);
    PERFORM set_config('app.granted_patients_rw', '{}', true);
    PERFORM set_config('app.granted_records', '{}', true);
    PERFORM set_config('app.granted_records_rw', '{}', true);
    IF acting IS NOT NULL THEN
        PERFORM set_config(
            'app.user_role',
            coalesce((SELECT role::text FROM users WHERE id = acting AND is_active AND deleted_at IS NULL), ''),
            true
        );
    END IF;
    -- A clinician's active grants, gathered once for the whole (short) transaction: the record
    -- policies compare rows with these sets instead of looking the grants up row by row.
    IF current_setting('app.user_role') IN ('physician', 'nurse') THEN
        PERFORM set_config('app.granted_patients', sets.patients::text, true),
                set_config('app.granted_patients_rw', sets.patients_rw::text, true),
                set_config('app.granted_records', sets.records::text, true),
                set_config('app.granted_records_rw', sets.records_rw::text, true)
        FROM (
            SELECT coalesce(array_agg(DISTINCT g.patient_id) FILTER (WHERE g.scope = 'ALL_RECORDS'), '{}') AS patients,
                   coalesce(array_agg(DISTINCT g.patient_id)
                            FILTER (WHERE g.scope = 'ALL_RECORDS' AND g.access_level = 'READ_WRITE'), '{}') AS patients_rw,
                   coalesce(array_agg(DISTINCT r.record_id) FILTER (WHERE g.scope = 'SELECTED_RECORDS'), '{}') AS records,
                   coalesce(array_agg(DISTINCT r.record_id)
                            FILTER (WHERE g.scope = 'SELECTED_RECORDS' AND g.access_level = 'READ_WRITE'), '{}') AS records_rw
            FROM access_grants g
            LEFT JOIN access_grant_records r ON r.grant_id = g.id AND g.scope = 'SELECTED_RECORDS'
            WHERE g.grantee_id = acting AND g.status = 'ACTIVE' AND g.expires_at > now()
        ) sets;
    END IF;
END
$$;

-- During sign-in, the account whose email is being signed in to (NULL once someone is acting).
CREATE FUNCTION hsc_signing_in_user() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT u.id FROM users u
    WHERE hsc_acting_user() IS NULL
      AND lower(u.email) = nullif(current_setting('app.sign_in_email', true), '')
$$;
GRANT EXECUTE ON FUNCTION hsc_signing_in_user() TO hsc_app;

-- Whether the acting clinician holds an active, unexpired grant from `of_patient` that covers `of_record`
-- (and allows writing, when asked). A function call per row (PostgreSQL does not inline a body with a
-- sub-select), so only the rare records-staff content check uses it; the clinicians' record policies
-- compare each row with grant sets collected once per statement instead (below).
CREATE FUNCTION hsc_grant_covers(of_patient uuid, of_record uuid, for_write boolean) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT 1 FROM access_grants g
        WHERE g.grantee_id = (SELECT hsc_acting_user())
          AND g.patient_id = of_patient
          AND g.status = 'ACTIVE'
          AND g.expires_at > now()
          AND (NOT for_write OR g.access_level = 'READ_WRITE')
          AND (g.scope = 'ALL_RECORDS'
               OR EXISTS (SELECT 1 FROM access_grant_records r WHERE r.grant_id = g.id AND r.record_id = of_record))
    )
$$;

-- The acting clinician's grants as sets, gathered by hsc_set_actor when the transaction begins and
-- read by the policies once per statement as `(SELECT hsc_granted_patients(false))` (an InitPlan), so
-- each row is only compared with them. Looking grants up row by row cost a physician with 175 grants
-- 56 ms per page on 1M records (BENCHMARKS.md). Kept as text: each policy copy in a query reads the
-- set once, and reading 175 ids as text[] costs about half of parsing them as uuid[].
-- Patients who granted the acting user all their records (READ_WRITE only, when asked).
CREATE FUNCTION hsc_granted_patients(for_write boolean) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting(CASE WHEN for_write THEN 'app.granted_patients_rw'
                                                ELSE 'app.granted_patients' END, true), ''), '{}')::text[]
$$;

-- Records listed in the acting user's active selected-records grants.
CREATE FUNCTION hsc_granted_records(for_write boolean) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting(CASE WHEN for_write THEN 'app.granted_records_rw'
                                                ELSE 'app.granted_records' END, true), ''), '{}')::text[]
$$;

-- Whether the acting clinician may add a record to `patient`'s chart: an active READ_WRITE grant from
-- the patient (any scope), or an existing care relationship (provider or author of one of their records).
-- plpgsql, so it is planned on its own with the SELECT policies only (a policy may not read its own
-- table through the same command's policy).
CREATE FUNCTION hsc_may_add_record(patient uuid) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    me uuid := hsc_acting_user();
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM access_grants g
        WHERE g.grantee_id = me AND g.patient_id = patient AND g.status = 'ACTIVE'
          AND g.expires_at > now() AND g.access_level = 'READ_WRITE'
    ) OR EXISTS (
        SELECT 1 FROM medical_records m WHERE m.patient_id = patient AND m.provider_id = me
    ) OR EXISTS (
        SELECT 1 FROM medical_records m WHERE m.patient_id = patient AND m.created_by = me
    );
END
$$;

REVOKE ALL ON FUNCTION hsc_set_actor(uuid, text), hsc_grant_covers(uuid, uuid, boolean), hsc_may_add_record(uuid),
    hsc_granted_patients(boolean), hsc_granted_records(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hsc_acting_user(), hsc_acting_role(), hsc_set_actor(uuid, text),
    hsc_grant_covers(uuid, uuid, boolean), hsc_may_add_record(uuid), hsc_granted_patients(boolean),
    hsc_granted_records(boolean) TO hsc_app;

-- ---------------------------------------------------------------------------------------------
-- users: your own row; staff names for everyone signed in; patients' identities for staff only.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON users TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY users_read ON users FOR SELECT TO hsc_app USING (
    id = (SELECT hsc_acting_user())
    OR ((SELECT hsc_acting_role()) <> '' AND (role <> 'patient' OR (SELECT hsc_acting_role()) <> 'patient'))
    OR ((SELECT hsc_acting_user()) IS NULL
        AND lower(email) = (SELECT nullif(current_setting('app.sign_in_email', true), '')))
);
-- Your own row (last login, MFA flag, password), or during sign-in the account being signed in to
-- (failed attempts, lockout).
CREATE POLICY users_update ON users FOR UPDATE TO hsc_app
USING (
    id = (SELECT hsc_acting_user())
    OR ((SELECT hsc_acting_user()) IS NULL
        AND lower(email) = (SELECT nullif(current_setting('app.sign_in_email', true), '')))
)
WITH CHECK (
    id = (SELECT hsc_acting_user())
    OR ((SELECT hsc_acting_user()) IS NULL
        AND lower(email) = (SELECT nullif(current_setting('app.sign_in_email', true), '')))
);

-- ---------------------------------------------------------------------------------------------
-- medical_records: the metadata row. Content is never read from here by the application role (it has
-- no SELECT on the sealed columns); it reads content from record_versions, whose policy is stricter.
ALTER TABLE medical_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE medical_records FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON medical_records TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY records_read ON medical_records FOR SELECT TO hsc_app USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'patient' THEN patient_id = (SELECT hsc_acting_user())
        WHEN 'physician' THEN provider_id = (SELECT hsc_acting_user()) OR created_by = (SELECT hsc_acting_user())
                              OR patient_id::text = ANY ((SELECT hsc_granted_patients(false))::text[])
                              OR id::text = ANY ((SELECT hsc_granted_records(false))::text[])
        WHEN 'nurse' THEN provider_id = (SELECT hsc_acting_user()) OR created_by = (SELECT hsc_acting_user())
                          OR patient_id::text = ANY ((SELECT hsc_granted_patients(false))::text[])
                          OR id::text = ANY ((SELECT hsc_granted_records(false))::text[])
        WHEN 'medical_records' THEN true
        WHEN 'billing_staff' THEN true
        ELSE false
    END
);
CREATE POLICY records_create ON medical_records FOR INSERT TO hsc_app WITH CHECK (
    (SELECT hsc_acting_role()) IN ('physician', 'nurse')
    AND provider_id = (SELECT hsc_acting_user())
    AND created_by = (SELECT hsc_acting_user())
    AND updated_by = (SELECT hsc_acting_user())
    AND version = 1
    AND hsc_may_add_record(patient_id)
);
CREATE POLICY records_update ON medical_records FOR UPDATE TO hsc_app
USING (
    (SELECT hsc_acting_role()) IN ('physician', 'nurse')
    AND (provider_id = (SELECT hsc_acting_user()) OR created_by = (SELECT hsc_acting_user())
         OR patient_id::text = ANY ((SELECT hsc_granted_patients(true))::text[])
         OR id::text = ANY ((SELECT hsc_granted_records(true))::text[]))
)
WITH CHECK (
    (SELECT hsc_acting_role()) IN ('physician', 'nurse')
    AND updated_by = (SELECT hsc_acting_user())
    AND (provider_id = (SELECT hsc_acting_user()) OR created_by = (SELECT hsc_acting_user())
         OR patient_id::text = ANY ((SELECT hsc_granted_patients(true))::text[])
         OR id::text = ANY ((SELECT hsc_granted_records(true))::text[]))
);

-- The application role reads metadata columns only; the sealed content columns it may write, never read.
REVOKE SELECT, UPDATE ON medical_records FROM hsc_app;
GRANT SELECT (id, patient_id, provider_id, created_by, updated_by, record_type, status, record_date, version,
              created_at, updated_at) ON medical_records TO hsc_app;
-- Not patient_id, provider_id or created_by: a record stays in its chart and keeps its author.
GRANT UPDATE (record_type, title, description, metadata, status, record_date, version, updated_by)
    ON medical_records TO hsc_app;

-- ---------------------------------------------------------------------------------------------
-- record_versions: the content (every version, the current one included). Patients and clinicians
-- for records they may see; records staff only under a grant; billing staff never.
ALTER TABLE record_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON record_versions TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY versions_read ON record_versions FOR SELECT TO hsc_app USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'patient' THEN EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'physician' THEN EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'nurse' THEN EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'medical_records' THEN hsc_grant_covers(patient_id, record_id, false)
        ELSE false
    END
);
-- A version row is written only beside the change that made it: the record must already be at this
-- version, last changed by the acting user.
CREATE POLICY versions_create ON record_versions FOR INSERT TO hsc_app WITH CHECK (
    (SELECT hsc_acting_role()) IN ('physician', 'nurse')
    AND changed_by = (SELECT hsc_acting_user())
    AND EXISTS (
        SELECT 1 FROM medical_records m
        WHERE m.id = record_id AND m.version = record_versions.version AND m.updated_by = (SELECT hsc_acting_user())
    )
);
CREATE INDEX record_versions_record_idx ON record_versions (record_id, version DESC);

-- ---------------------------------------------------------------------------------------------
-- access_grants: patients their own, clinicians their incoming ones, records staff all.
ALTER TABLE access_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON access_grants TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY grants_read ON access_grants FOR SELECT TO hsc_app USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'patient' THEN patient_id = (SELECT hsc_acting_user())
        WHEN 'physician' THEN grantee_id = (SELECT hsc_acting_user())
        WHEN 'nurse' THEN grantee_id = (SELECT hsc_acting_user())
        WHEN 'medical_records' THEN true
        ELSE false
    END
);
-- Patients grant on their own records, records staff on anyone's — always to someone else, who is a
-- clinician or records staff, never to billing, admins or patients. A clinician creates only their
-- own break-glass grant, for at most an hour. The patient must be a patient.
CREATE POLICY grants_create ON access_grants FOR INSERT TO hsc_app WITH CHECK (
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
CREATE POLICY grants_change ON access_grants FOR UPDATE TO hsc_app
USING (
    ((SELECT hsc_acting_role()) = 'patient' AND patient_id = (SELECT hsc_acting_user()))
    OR (SELECT hsc_acting_role()) = 'medical_records'
)
WITH CHECK (
    (((SELECT hsc_acting_role()) = 'patient' AND patient_id = (SELECT hsc_acting_user()))
     OR (SELECT hsc_acting_role()) = 'medical_records')
    -- A revocation names who revoked.
    AND (status <> 'REVOKED' OR revoked_by = (SELECT hsc_acting_user()))
);

ALTER TABLE access_grant_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_grant_records FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON access_grant_records TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY grant_records_read ON access_grant_records FOR SELECT TO hsc_app USING (
    EXISTS (SELECT 1 FROM access_grants g WHERE g.id = grant_id)
);
-- Listed records must belong to the grant's patient.
CREATE POLICY grant_records_add ON access_grant_records FOR INSERT TO hsc_app WITH CHECK (
    (SELECT hsc_acting_role()) IN ('patient', 'medical_records')
    AND EXISTS (
        SELECT 1 FROM access_grants g JOIN medical_records m ON m.patient_id = g.patient_id
        WHERE g.id = grant_id AND m.id = record_id
    )
);
CREATE POLICY grant_records_remove ON access_grant_records FOR DELETE TO hsc_app USING (
    (SELECT hsc_acting_role()) IN ('patient', 'medical_records')
    AND EXISTS (SELECT 1 FROM access_grants g WHERE g.id = grant_id)
);

-- ---------------------------------------------------------------------------------------------
-- audit_logs: anyone may append a row about themselves (or, before sign-in, about nobody or the
-- account being signed in to); reading follows SPEC's audit column.
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON audit_logs TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY audit_append ON audit_logs FOR INSERT TO hsc_app WITH CHECK (
    user_id = (SELECT hsc_acting_user())
    OR ((SELECT hsc_acting_user()) IS NULL
        AND (user_id IS NULL OR user_id = (SELECT hsc_signing_in_user())))
);
CREATE POLICY audit_read ON audit_logs FOR SELECT TO hsc_app USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'admin' THEN true
        -- "Who looked at my chart": accesses to the patient's own records.
        WHEN 'patient' THEN patient_id = (SELECT hsc_acting_user()) AND resource_type = 'medical_record'
        WHEN 'medical_records' THEN resource_type = 'medical_record'
        ELSE false
    END
);

-- ---------------------------------------------------------------------------------------------
-- Sessions, MFA devices and backup codes: each user's own. During sign-in (before the password is
-- checked) only the devices of the account being signed in to can be counted; once the password is
-- right, sign-in acts as that user. A bug can never read another user's second factor.

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON sessions TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY own_sessions ON sessions TO hsc_app
USING (user_id = (SELECT hsc_acting_user()))
WITH CHECK (user_id = (SELECT hsc_acting_user()));

ALTER TABLE mfa_devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_devices FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON mfa_devices TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY own_devices ON mfa_devices TO hsc_app
USING (user_id = (SELECT hsc_acting_user()))
WITH CHECK (user_id = (SELECT hsc_acting_user()));
CREATE POLICY devices_at_sign_in ON mfa_devices FOR SELECT TO hsc_app
USING (user_id = (SELECT hsc_signing_in_user()));

ALTER TABLE mfa_backup_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_backup_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON mfa_backup_codes TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY own_backup_codes ON mfa_backup_codes TO hsc_app
USING (user_id = (SELECT hsc_acting_user()))
WITH CHECK (user_id = (SELECT hsc_acting_user()));
