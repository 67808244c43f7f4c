-- Usage's verdicts used to be counted on the job row, which every
-- reprocessed batch (and the walker, per page) locked and rewrote. They are
-- now appended as one delta row per (batch, job): no row is shared by the
-- writers. A job's processed/mapped = its row's (folded) counts + its deltas;
-- deltas of finished jobs are folded into the row by the worker's sweep.
CREATE TABLE reprocess_progress (
  job_id text NOT NULL REFERENCES reprocess_jobs (id) ON DELETE CASCADE,
  processed bigint NOT NULL,
  mapped bigint NOT NULL,
  -- when the verdicts were recorded: a walked job with no verdict for the
  -- settle interval is finished with the counts it has (see pg-jobs.ts)
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX progress_by_job ON reprocess_progress (job_id, at);

-- When the walk ended (every event sent): the settle interval starts there.
ALTER TABLE reprocess_jobs ADD COLUMN walked_at timestamptz;
UPDATE reprocess_jobs SET walked_at = updated_at WHERE walk_done;
CREATE INDEX jobs_settling ON reprocess_jobs (id) WHERE status = 'running' AND walk_done;
