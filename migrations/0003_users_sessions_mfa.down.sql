DROP TABLE mfa_backup_codes;
DROP TABLE mfa_devices;
DROP TABLE sessions;
DROP TABLE users;
