DROP INDEX record_versions_change_id_key;
ALTER TABLE record_versions DROP COLUMN change_id;
