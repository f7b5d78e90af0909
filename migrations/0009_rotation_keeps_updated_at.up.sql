-- Re-encrypting a row under a new key is not a change to it: `hsc keys rotate` sets
-- hsc.key_rotation for its transactions, and updated_at then stays as it was.
CREATE OR REPLACE FUNCTION hsc_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := OLD.created_at;
    IF coalesce(current_setting('hsc.key_rotation', true), '') = 'on' THEN
        NEW.updated_at := OLD.updated_at;
    ELSE
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$;
