-- A patient id or an AE number names one record whatever its letter case
-- ("P001" and "p001" would read as one patient): the store refuses a new
-- key that differs from another only in case before it writes, and this
-- index holds when two such keys are written at the same moment.
CREATE UNIQUE INDEX record_current_key_any_case
    ON record_current (tbl, LOWER(record_key))
    WHERE tbl IN ('patients', 'status', 'adverse_events') AND retracted = 0;
