-- Investigators' electronic signatures of a patient's casebook (21 CFR
-- Part 11 §11.50: who signed, when, and what the signature means). A
-- signature covers the data as they stood: `covered_seq` is the last
-- version of the patient's records then, so any later change shows the
-- casebook as changed since it was signed. Never updated or deleted.
CREATE TABLE signatures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_id TEXT NOT NULL,
    site_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    printed_name TEXT NOT NULL,
    role TEXT NOT NULL,
    meaning TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    covered_seq INTEGER NOT NULL
);
CREATE INDEX signatures_patient ON signatures (patient_id, id);

-- The signer's full name, printed with each signature (§11.50(a)(1)).
ALTER TABLE users ADD COLUMN full_name TEXT;
