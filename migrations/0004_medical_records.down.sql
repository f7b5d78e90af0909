DROP TABLE record_versions;
DROP TABLE medical_records;
