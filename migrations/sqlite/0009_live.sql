-- Per-answer versions, so that saves of different answers of one review merge.
-- answer_versions maps a question id to the review version that last changed its
-- answer (a JSON object; an answer missing from it counts as unchanged since version
-- 0). It holds ids and numbers only, never written content.
ALTER TABLE reviews ADD COLUMN answer_versions TEXT NOT NULL DEFAULT '{}';
