-- The audited trial database (SQLite). Timestamps are UTC text of fixed
-- width ("2026-11-24T09:57:21.123456Z") so that text order is time order;
-- flags are integers 0/1. PostgreSQL has the same schema in ../postgres.

CREATE TABLE sites (
    site_id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE users (
    user_name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    site_id TEXT REFERENCES sites (site_id),
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE monitor_sites (
    user_name TEXT NOT NULL REFERENCES users (user_name),
    site_id TEXT NOT NULL REFERENCES sites (site_id),
    PRIMARY KEY (user_name, site_id)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (user_name),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Every version of every record, never updated or deleted.
CREATE TABLE record_versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl TEXT NOT NULL,
    record_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    cells TEXT NOT NULL,
    retracted INTEGER NOT NULL DEFAULT 0,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    reason TEXT,
    UNIQUE (tbl, record_key, version)
);
CREATE INDEX record_versions_patient ON record_versions (patient_id);
CREATE INDEX record_versions_time ON record_versions (recorded_at);

-- The latest version of each record: the row optimistic concurrency
-- updates with "WHERE version = expected".
CREATE TABLE record_current (
    tbl TEXT NOT NULL,
    record_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    retracted INTEGER NOT NULL,
    PRIMARY KEY (tbl, record_key)
);
CREATE INDEX record_current_site ON record_current (site_id);
CREATE INDEX record_current_patient ON record_current (patient_id);

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    user_name TEXT NOT NULL,
    action TEXT NOT NULL,
    tbl TEXT,
    record_key TEXT,
    version INTEGER,
    before_cells TEXT,
    after_cells TEXT,
    reason TEXT,
    detail TEXT
);
CREATE INDEX audit_record ON audit (tbl, record_key);

-- One row: the bundle manifest (cut-off, protocol) and the lock.
CREATE TABLE trial_state (
    id INTEGER PRIMARY KEY,
    locked INTEGER NOT NULL,
    manifest TEXT NOT NULL,
    protocol TEXT,
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
);

-- Data queries raised by warnings of the edit checks.
CREATE TABLE queries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl TEXT NOT NULL,
    record_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    check_code TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    raised_at TEXT NOT NULL
);
CREATE INDEX queries_record ON queries (tbl, record_key);

-- Per-database secrets (the pseudonym key), made at first start.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
