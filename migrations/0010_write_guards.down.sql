DROP TRIGGER medical_records_version_row ON medical_records;
DROP FUNCTION hsc_require_version_row();
DROP TRIGGER medical_records_guard ON medical_records;
DROP TRIGGER access_grants_guard ON access_grants;
DROP TRIGGER sessions_guard ON sessions;
DROP TRIGGER users_guard ON users;
DROP FUNCTION hsc_guard_change();

REVOKE UPDATE ON access_grants FROM hsc_app;
GRANT UPDATE ON access_grants TO hsc_app;
REVOKE UPDATE ON sessions FROM hsc_app;
GRANT UPDATE ON sessions TO hsc_app;

DROP FUNCTION hsc_password_hash();
REVOKE SELECT, UPDATE ON users FROM hsc_app;
GRANT SELECT, UPDATE ON users TO hsc_app;
