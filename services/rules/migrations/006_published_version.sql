-- The newest version written to Redis per account. A change commits, then writes its snapshot; when
-- that write fails (Redis unreachable, the process stopped between the two), usage kept the older
-- snapshot, and for a change with nothing to reprocess (a rule deleted or disabled) nothing wrote it
-- again: usage went on counting a deleted rule. The reprocess worker's sweep now republishes every
-- account whose version is ahead of what was written. Existing accounts start as written.
ALTER TABLE account_versions ADD COLUMN published_version bigint NOT NULL DEFAULT 0;
UPDATE account_versions SET published_version = version;
