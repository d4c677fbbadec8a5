-- A third kind of review question: `objectives`, answered with a rating (and an
-- optional comment) per objective of the reviewee that is linked into the cycle. The
-- answers themselves live in the review's sealed answers like every other answer; only
-- the questionnaire's CHECK constraint changes.
--
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt with the
-- same columns, keys and index. Nothing references `questions` by foreign key (answers
-- name questions inside sealed JSON), so the rebuild leaves no dangling reference.

CREATE TABLE questions_new (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    cycle_id    TEXT NOT NULL,
    position    BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('text', 'rating', 'objectives')),
    prompt      TEXT NOT NULL,
    FOREIGN KEY (company_id, cycle_id) REFERENCES cycles (company_id, id)
);
INSERT INTO questions_new (company_id, id, cycle_id, position, kind, prompt)
    SELECT company_id, id, cycle_id, position, kind, prompt FROM questions;
DROP TABLE questions;
ALTER TABLE questions_new RENAME TO questions;
CREATE INDEX questions_cycle ON questions (company_id, cycle_id, position);
