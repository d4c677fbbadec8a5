-- What a submitted review's objectives score is based on: the reviewee's objectives
-- linked into the cycle, with their weights, at the moment the review was submitted, as
-- a JSON list of `[objective id, weight or null]` in link order (ids and numbers only,
-- no written content, so not sealed). Links changed later no longer move the score of a
-- handed-in review. NULL for drafts, for cycles without an objectives question and for
-- reviews submitted before this column existed (those follow the current links).

ALTER TABLE reviews ADD COLUMN objectives_basis TEXT;
