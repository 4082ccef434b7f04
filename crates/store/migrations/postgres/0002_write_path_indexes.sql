-- Every change reads its patient's current records and open data queries;
-- the index on record_current holds all the patient lookup reads, so it is
-- answered from the index alone.
DROP INDEX record_current_patient;
CREATE INDEX record_current_patient ON record_current (patient_id, retracted, seq, tbl);
CREATE INDEX queries_patient ON queries (patient_id, status);
