-- A patient's last version is read from record_current (see write.rs,
-- `Stamp`); no read of record_versions goes by patient any more, and the
-- index cost a page written for every change.
DROP INDEX record_versions_patient;
