-- A record's queries raised by hand, read by its queries page and by the
-- check that a form sent twice raises one query (under SQLite's writer
-- lock: a scan there would hold up every change).
CREATE INDEX manual_queries_record ON manual_queries (tbl, record_key, status);
