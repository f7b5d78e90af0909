DROP POLICY maintenance ON mfa_backup_codes;
DROP POLICY own_backup_codes ON mfa_backup_codes;
ALTER TABLE mfa_backup_codes NO FORCE ROW LEVEL SECURITY;
ALTER TABLE mfa_backup_codes DISABLE ROW LEVEL SECURITY;
DROP POLICY maintenance ON mfa_devices;
DROP POLICY own_devices ON mfa_devices;
DROP POLICY devices_at_sign_in ON mfa_devices;
ALTER TABLE mfa_devices NO FORCE ROW LEVEL SECURITY;
ALTER TABLE mfa_devices DISABLE ROW LEVEL SECURITY;
DROP POLICY maintenance ON sessions;
DROP POLICY own_sessions ON sessions;
ALTER TABLE sessions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE sessions DISABLE ROW LEVEL SECURITY;

DROP POLICY maintenance ON audit_logs;
DROP POLICY audit_append ON audit_logs;
DROP POLICY audit_read ON audit_logs;
ALTER TABLE audit_logs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_logs DISABLE ROW LEVEL SECURITY;

DROP POLICY maintenance ON access_grant_records;
DROP POLICY grant_records_read ON access_grant_records;
DROP POLICY grant_records_add ON access_grant_records;
DROP POLICY grant_records_remove ON access_grant_records;
ALTER TABLE access_grant_records NO FORCE ROW LEVEL SECURITY;
ALTER TABLE access_grant_records DISABLE ROW LEVEL SECURITY;

DROP POLICY maintenance ON access_grants;
DROP POLICY grants_read ON access_grants;
DROP POLICY grants_create ON access_grants;
DROP POLICY grants_change ON access_grants;
ALTER TABLE access_grants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE access_grants DISABLE ROW LEVEL SECURITY;

DROP INDEX record_versions_record_idx;
DROP POLICY maintenance ON record_versions;
DROP POLICY versions_read ON record_versions;
DROP POLICY versions_create ON record_versions;
ALTER TABLE record_versions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE record_versions DISABLE ROW LEVEL SECURITY;

REVOKE SELECT, UPDATE ON medical_records FROM hsc_app;
GRANT SELECT, UPDATE ON medical_records TO hsc_app;
DROP POLICY maintenance ON medical_records;
DROP POLICY records_read ON medical_records;
DROP POLICY records_create ON medical_records;
DROP POLICY records_update ON medical_records;
ALTER TABLE medical_records NO FORCE ROW LEVEL SECURITY;
ALTER TABLE medical_records DISABLE ROW LEVEL SECURITY;

DROP POLICY maintenance ON users;
DROP POLICY users_read ON users;
DROP POLICY users_update ON users;
ALTER TABLE users NO FORCE ROW LEVEL SECURITY;
ALTER TABLE users DISABLE ROW LEVEL SECURITY;

DROP FUNCTION hsc_granted_records(boolean);
DROP FUNCTION hsc_granted_patients(boolean);
DROP FUNCTION hsc_may_add_record(uuid);
DROP FUNCTION hsc_grant_covers(uuid, uuid, boolean);
DROP FUNCTION hsc_set_actor(uuid, text);
DROP FUNCTION hsc_acting_role();
DROP FUNCTION hsc_acting_user();
DROP FUNCTION hsc_signing_in_user();
