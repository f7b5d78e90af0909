-- The role every console transaction switches to (SET LOCAL ROLE hsc_app). It cannot log in, owns
-- nothing and cannot bypass row-level security, so a query run under it sees only what the policies allow.
-- Roles belong to the whole server, not to one database: several hsc databases share this one, so it
-- is created only when missing, and a concurrent creator elsewhere is not an error.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hsc_app') THEN
        BEGIN
            CREATE ROLE hsc_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    -- The login role must be allowed to switch to it; a superuser always is.
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'hsc_app', 'MEMBER') THEN
        EXECUTE format('GRANT hsc_app TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO hsc_app;
