DROP TABLE access_grant_records;
DROP TABLE access_grants;
