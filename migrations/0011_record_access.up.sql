-- Which records each clinician may see, one row per reason (provider, author, or a grant), kept up
-- to date by triggers. The browser's page for a clinician is then one index range — their newest
-- visible records — instead of a merge of several access paths (BENCHMARKS.md). It is an index, not
-- the rule: the policies on medical_records still decide every row. A revoked grant's rows are
-- deleted; an expired one's stay and are skipped by their copy of the expiry.
CREATE TABLE record_access (
    user_id uuid NOT NULL REFERENCES users (id),
    record_id uuid NOT NULL REFERENCES medical_records (id) ON DELETE CASCADE,
    record_date date NOT NULL,
    -- NULL: the user is the record's provider or author; else the grant that covers it, and when
    -- that grant expires.
    grant_id uuid REFERENCES access_grants (id) ON DELETE CASCADE,
    expires_at timestamptz,
    CHECK ((grant_id IS NULL) = (expires_at IS NULL))
);
CREATE UNIQUE INDEX record_access_key ON record_access (user_id, record_id, grant_id) NULLS NOT DISTINCT;
CREATE INDEX record_access_page_idx ON record_access (user_id, record_date DESC, record_id DESC)
    INCLUDE (grant_id, expires_at);
CREATE INDEX record_access_record_idx ON record_access (record_id);
CREATE INDEX record_access_grant_idx ON record_access (grant_id) WHERE grant_id IS NOT NULL;

ALTER TABLE record_access ENABLE ROW LEVEL SECURITY;
ALTER TABLE record_access FORCE ROW LEVEL SECURITY;
CREATE POLICY maintenance ON record_access TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY own_access ON record_access FOR SELECT TO hsc_app USING (user_id = (SELECT hsc_acting_user()));
GRANT SELECT ON record_access TO hsc_app;

-- The rows of one record: its provider and author, and every active all-records grant on its patient
-- (selected-records grants add theirs through access_grant_records).
CREATE FUNCTION hsc_index_record(rec medical_records) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO record_access (user_id, record_id, record_date, grant_id, expires_at)
    SELECT who, rec.id, rec.record_date, NULL, NULL FROM (VALUES (rec.provider_id), (rec.created_by)) AS v (who)
    UNION ALL
    SELECT g.grantee_id, rec.id, rec.record_date, g.id, g.expires_at FROM access_grants g
    WHERE g.patient_id = rec.patient_id AND g.status = 'ACTIVE' AND g.scope = 'ALL_RECORDS'
    UNION ALL
    SELECT g.grantee_id, rec.id, rec.record_date, g.id, g.expires_at FROM access_grant_records r
    JOIN access_grants g ON g.id = r.grant_id
    WHERE r.record_id = rec.id AND g.status = 'ACTIVE'
    ON CONFLICT DO NOTHING
$$;

CREATE FUNCTION hsc_record_access_on_record() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.patient_id = OLD.patient_id AND NEW.provider_id = OLD.provider_id
           AND NEW.created_by = OLD.created_by THEN
            IF NEW.record_date <> OLD.record_date THEN
                UPDATE record_access SET record_date = NEW.record_date WHERE record_id = NEW.id;
            END IF;
            RETURN NULL;
        END IF;
        -- Moved to another chart, provider or author (maintenance only): index it afresh, and let
        -- its versions say the same (the content policy reads them as shortcuts, below).
        DELETE FROM record_access WHERE record_id = NEW.id;
        UPDATE record_versions SET patient_id = NEW.patient_id, provider_id = NEW.provider_id
        WHERE record_id = NEW.id;
    END IF;
    PERFORM hsc_index_record(NEW);
    RETURN NULL;
END
$$;
CREATE TRIGGER medical_records_access AFTER INSERT OR UPDATE ON medical_records
FOR EACH ROW EXECUTE FUNCTION hsc_record_access_on_record();

CREATE FUNCTION hsc_record_access_on_grant() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status <> 'ACTIVE' THEN
        DELETE FROM record_access WHERE grant_id = NEW.id;
    ELSIF TG_OP = 'UPDATE' AND NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
        UPDATE record_access SET expires_at = NEW.expires_at WHERE grant_id = NEW.id;
    ELSIF TG_OP = 'INSERT' AND NEW.status = 'ACTIVE' AND NEW.scope = 'ALL_RECORDS' THEN
        INSERT INTO record_access (user_id, record_id, record_date, grant_id, expires_at)
        SELECT NEW.grantee_id, m.id, m.record_date, NEW.id, NEW.expires_at
        FROM medical_records m WHERE m.patient_id = NEW.patient_id
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER access_grants_access AFTER INSERT OR UPDATE OF status, expires_at ON access_grants
FOR EACH ROW EXECUTE FUNCTION hsc_record_access_on_grant();

CREATE FUNCTION hsc_record_access_on_listed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM record_access WHERE grant_id = OLD.grant_id AND record_id = OLD.record_id;
        RETURN NULL;
    END IF;
    INSERT INTO record_access (user_id, record_id, record_date, grant_id, expires_at)
    SELECT g.grantee_id, m.id, m.record_date, g.id, g.expires_at
    FROM access_grants g JOIN medical_records m ON m.id = NEW.record_id
    WHERE g.id = NEW.grant_id AND g.status = 'ACTIVE'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER access_grant_records_access AFTER INSERT OR DELETE ON access_grant_records
FOR EACH ROW EXECUTE FUNCTION hsc_record_access_on_listed();

REVOKE ALL ON FUNCTION hsc_index_record(medical_records), hsc_record_access_on_record(),
    hsc_record_access_on_grant(), hsc_record_access_on_listed() FROM PUBLIC;

-- The content policy answers the common cases from the version row itself — the record's provider
-- (a version carries its record's patient and provider, kept equal above), or a patient or record
-- in the clinician's grant sets — before it asks whether the record is visible at all. Same answer,
-- without a nested look at medical_records for most rows of a page.
ALTER POLICY versions_read ON record_versions USING (
    CASE (SELECT hsc_acting_role())
        WHEN 'patient' THEN EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'physician' THEN provider_id = (SELECT hsc_acting_user())
                              OR patient_id::text = ANY ((SELECT hsc_granted_patients(false))::text[])
                              OR record_id::text = ANY ((SELECT hsc_granted_records(false))::text[])
                              OR EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'nurse' THEN provider_id = (SELECT hsc_acting_user())
                          OR patient_id::text = ANY ((SELECT hsc_granted_patients(false))::text[])
                          OR record_id::text = ANY ((SELECT hsc_granted_records(false))::text[])
                          OR EXISTS (SELECT 1 FROM medical_records m WHERE m.id = record_id)
        WHEN 'medical_records' THEN hsc_grant_covers(patient_id, record_id, false)
        ELSE false
    END
);

-- Builds the whole table afresh from records and grants: for this migration, and for bulk loaders
-- that load with the triggers off (the owner only).
CREATE FUNCTION hsc_rebuild_record_access() RETURNS bigint
LANGUAGE sql AS $$
    DELETE FROM record_access;
    INSERT INTO record_access (user_id, record_id, record_date, grant_id, expires_at)
    SELECT who, m.id, m.record_date, NULL::uuid, NULL::timestamptz FROM medical_records m
    CROSS JOIN LATERAL (VALUES (m.provider_id), (m.created_by)) AS v (who)
    UNION ALL
    SELECT g.grantee_id, m.id, m.record_date, g.id, g.expires_at FROM access_grants g
    JOIN medical_records m ON m.patient_id = g.patient_id
    WHERE g.status = 'ACTIVE' AND g.scope = 'ALL_RECORDS'
    UNION ALL
    SELECT g.grantee_id, m.id, m.record_date, g.id, g.expires_at FROM access_grant_records r
    JOIN access_grants g ON g.id = r.grant_id JOIN medical_records m ON m.id = r.record_id
    WHERE g.status = 'ACTIVE'
    ON CONFLICT DO NOTHING;
    SELECT count(*) FROM record_access;
$$;
REVOKE ALL ON FUNCTION hsc_rebuild_record_access() FROM PUBLIC;

SELECT hsc_rebuild_record_access();
