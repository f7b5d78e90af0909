-- The lowercased email as a column of its own. Row-level security keeps a query from using an index
-- through a function that is not leakproof, and lower() is not: `lower(email) = $1` read every user.
-- Plain text equality is leakproof, so `email_key = $1` finds a person through this index.
ALTER TABLE users ADD COLUMN email_key text GENERATED ALWAYS AS (lower(email)) STORED;
CREATE INDEX users_email_key_idx ON users (email_key);
GRANT SELECT (email_key) ON users TO hsc_app;
