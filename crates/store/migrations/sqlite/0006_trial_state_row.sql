-- The trial state's one row exists from the start. On PostgreSQL every
-- change holds it shared until it commits and a lock holds it exclusively
-- (write.rs, state.rs), so that a lock waits for the changes in flight; a
-- row still to be inserted could not be held, and the first lock would not
-- wait.
INSERT INTO trial_state (id, locked, manifest, changed_at, changed_by)
SELECT 1, 0, '', '', '' WHERE NOT EXISTS (SELECT 1 FROM trial_state WHERE id = 1);
