-- Re-encrypting a row under a new key is not a change to it: `hsc keys rotate` sets
-- hsc.key_rotation for its transactions (as the owner), and updated_at then stays as it was. The
-- application role could set the same name, so it is not listened to there.
CREATE OR REPLACE FUNCTION hsc_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := OLD.created_at;
    IF coalesce(current_setting('hsc.key_rotation', true), '') = 'on' AND current_user <> 'hsc_app' THEN
        NEW.updated_at := OLD.updated_at;
    ELSE
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$;
