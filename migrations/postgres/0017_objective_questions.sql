-- A third kind of review question: `objectives`, answered with a rating (and an
-- optional comment) per objective of the reviewee that is linked into the cycle. The
-- answers themselves live in the review's sealed answers like every other answer; only
-- the questionnaire's CHECK constraint changes.
--
-- PostgreSQL changes the constraint in place (the SQLite twin rebuilds the table, as
-- SQLite cannot); `questions_kind_check` is the name PostgreSQL gave the inline CHECK
-- of 0001_core.sql.

ALTER TABLE questions DROP CONSTRAINT questions_kind_check;
ALTER TABLE questions ADD CONSTRAINT questions_kind_check
    CHECK (kind IN ('text', 'rating', 'objectives'));
