-- Failed logins by client address, for throttling an address that tries
-- passwords on many accounts (the per-account lockout of `users` does not
-- slow that). Rows older than the throttling window are deleted when the
-- address fails again: they are not trial data, and the audit trail keeps
-- every attempt.
CREATE TABLE login_failures (
    address TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_address ON login_failures (address, at);
