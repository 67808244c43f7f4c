-- An event's outcome moves from `events` to its narrow message_keys row. A reprocessed event that now
-- maps changed its outcome in `events`, and Postgres rewrites a whole row for that: a new copy of the
-- event with its properties (hundreds of bytes), a new primary-key entry (the copy rarely fits on the
-- same page), the old page written to the WAL, and a dead copy left for vacuum in the largest table.
-- In message_keys the same change rewrites a ~60-byte row, found by the lookup the replay does anyway.
-- `events` is now written once, when the event is first stored.
--
-- New message_keys pages are filled to 80%: the outcome is not indexed, so with room on the page the
-- change is a HOT update (no index entry, the new version beside the old one, which pruning reclaims for
-- the next). Measured on 1M stored events, 6,000-event batches interleaved with the old statement:
-- 22.9 us and 1,833 bytes of WAL an event before, 15.2 us and 592 bytes (at fillfactor 100: 22.3 us, 1,019 bytes).
ALTER TABLE message_keys
  ADD COLUMN outcome text,
  ADD COLUMN reason text,
  ADD COLUMN rules_version integer;

UPDATE message_keys k SET outcome = e.outcome, reason = e.reason, rules_version = e.rules_version
FROM events e
WHERE e.account_id = k.account_id AND e.message_id = k.message_id AND e.event_time = k.event_time;

-- Every key was inserted in the transaction that stored its event, so none is left without an outcome;
-- if one were, this fails the migration rather than invent one.
ALTER TABLE message_keys
  ALTER COLUMN outcome SET NOT NULL,
  ALTER COLUMN rules_version SET NOT NULL,
  ADD CONSTRAINT message_keys_outcome_check CHECK (outcome IN ('mapped', 'unmapped')),
  ADD CONSTRAINT message_keys_reason_check CHECK ((outcome = 'mapped') = (reason IS NULL));

ALTER TABLE message_keys SET (fillfactor = 80);

ALTER TABLE events DROP COLUMN outcome, DROP COLUMN reason, DROP COLUMN rules_version;
