-- Data queries raised by hand: a monitor or data manager asks about a
-- record, or one of its fields; the site answers; the one who asks closes
-- the query or reopens it. Nothing is deleted: every step is a message of
-- the query's thread, and the status is the last step's.
CREATE TABLE manual_queries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl TEXT NOT NULL,
    record_key TEXT NOT NULL,
    field TEXT,
    version INTEGER NOT NULL,
    patient_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    status TEXT NOT NULL,
    raised_by TEXT NOT NULL,
    raised_at TEXT NOT NULL
);
CREATE INDEX manual_queries_patient ON manual_queries (patient_id, status);
CREATE INDEX manual_queries_status ON manual_queries (status, site_id);

CREATE TABLE manual_query_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id INTEGER NOT NULL REFERENCES manual_queries (id),
    at TEXT NOT NULL,
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    step TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX manual_query_messages_query ON manual_query_messages (query_id, seq);
