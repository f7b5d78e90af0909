DROP FUNCTION hsc_live_grants();
DROP TRIGGER access_grant_records_access ON access_grant_records;
DROP TRIGGER access_grants_access ON access_grants;
DROP TRIGGER medical_records_access ON medical_records;
DROP FUNCTION hsc_record_access_on_listed();
DROP FUNCTION hsc_record_access_on_grant();
DROP FUNCTION hsc_record_access_on_record();
DROP FUNCTION hsc_index_record(medical_records);
DROP TABLE record_access;
