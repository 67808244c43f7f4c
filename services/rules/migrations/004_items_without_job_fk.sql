-- The walker inserts a page of items (thousands of rows) per statement, each
-- for the job it holds the advisory lock on, and jobs are never deleted (the
-- cascade never ran). The foreign key still cost one referential check per
-- row, a SELECT ... FOR KEY SHARE of the job row: 12 of 38 ms per 5,000-row
-- page on this machine (EXPLAIN ANALYZE of takePage). Nothing reads the
-- constraint; code written for it runs unchanged without it.
ALTER TABLE reprocess_items DROP CONSTRAINT IF EXISTS reprocess_items_job_id_fkey;
