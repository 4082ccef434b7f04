-- Login attempts by client address, for throttling an address that tries
-- passwords on many accounts (the per-account lockout of `users` does not
-- slow that). An attempt is written before its password is checked, so
-- that attempts made at once count each other, and deleted when it
-- succeeds: what stays are failures. Rows older than the throttling window
-- are deleted at each failure: they are not trial data, and the audit
-- trail keeps every attempt.
CREATE TABLE login_attempts (
    attempt TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_attempts_address ON login_attempts (address, at);
CREATE INDEX login_attempts_at ON login_attempts (at);
