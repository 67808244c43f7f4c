-- Jobs created from now on record what they sent one row per page instead of
-- one reprocess_items row per event (an insert per event sent and an update
-- per verdict were ~10 us of Postgres CPU per replayed event). Each event of a
-- page is republished with its address (jobId "<job>/<page>/<index>"), which
-- usage echoes in its verdict; `verdicts` holds one character per event of the
-- page: '0' no verdict yet, '1' processed and not mapped, '2' mapped. A verdict
-- counts only if its character was still '0', so a redelivered verdict or a
-- page sent twice (crash before the cursor moved: the page is sent again, by
-- its recorded message ids, with the same addresses) counts once.
-- Jobs created before this migration (paged = false) keep their items.
ALTER TABLE reprocess_jobs ADD COLUMN paged boolean NOT NULL DEFAULT false;

CREATE TABLE reprocess_pages (
  job_id text NOT NULL,
  page_no integer NOT NULL,
  -- the page's events in walk order: the index in an address points here
  message_ids text[] NOT NULL,
  -- position of the page's last event (the walk continues after it)
  last_time timestamptz NOT NULL,
  last_message_id text NOT NULL,
  verdicts text NOT NULL,
  PRIMARY KEY (job_id, page_no)
);
