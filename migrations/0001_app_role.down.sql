REVOKE USAGE ON SCHEMA public FROM hsc_app;

-- Drop the role only when no other database on this server still grants it anything; otherwise it
-- stays for them (DROP ROLE itself refuses while such grants exist, which is caught the same way).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM pg_shdepend d
        JOIN pg_roles r ON r.oid = d.refobjid
        WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname = 'hsc_app'
    ) THEN
        BEGIN
            DROP ROLE hsc_app;
        EXCEPTION WHEN dependent_objects_still_exist OR undefined_object THEN
            NULL;
        END;
    END IF;
END
$$;
