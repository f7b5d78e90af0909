-- Each save from the console carries a change id, so a save retried after a lost connection finds the
-- version its first attempt already wrote instead of writing it twice.
ALTER TABLE record_versions ADD COLUMN change_id uuid;
CREATE UNIQUE INDEX record_versions_change_id_key ON record_versions (change_id);
