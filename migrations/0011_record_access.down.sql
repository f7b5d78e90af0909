ALTER POLICY versions_read ON record_versions USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'patient' THEN EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'physician' THEN EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'nurse' THEN EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'medical_records' THEN hsc_grant_covers(patient_id, record_id, false)
        ELSE false
    END
);
DROP FUNCTION hsc_rebuild_record_access();
DROP TRIGGER access_grant_records_access ON access_grant_records;
DROP TRIGGER access_grants_access ON access_grants;
DROP TRIGGER medical_records_access ON medical_records;
DROP FUNCTION hsc_record_access_on_listed();
DROP FUNCTION hsc_record_access_on_grant();
DROP FUNCTION hsc_record_access_on_record();
DROP FUNCTION hsc_index_record(medical_records);
DROP TABLE record_access;
