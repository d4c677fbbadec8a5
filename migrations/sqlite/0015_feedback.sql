-- 360 feedback: per-cycle settings and questions, nominations (which double as the
-- reviewer's feedback request), and submitted answers.
--
-- Anonymity is built into the shape of the tables. A nomination row links a reviewer to
-- the person they give feedback about, because the reviewer needs it to find and write
-- their request. The submitted answer of anonymous feedback goes into `feedback_answers`
-- with no author, no request, no time and a random id, and the subject's anonymous rows
-- are written again in a random order at every submission, so that neither a column nor
-- the order rows were stored in ties an answer to whoever wrote it.

CREATE TABLE feedback_settings (
    company_id   TEXT NOT NULL REFERENCES companies (id),
    cycle_id     TEXT NOT NULL PRIMARY KEY,
    -- Whether nominations may be made in this cycle.
    enabled      BIGINT NOT NULL,
    -- Who nominates reviewers: 'reviewee' (the subject), 'manager' or 'hr'.
    nominated_by TEXT NOT NULL CHECK (nominated_by IN ('reviewee', 'manager', 'hr')),
    -- How many reviewers a subject needs and may have (nominations not rejected).
    min_reviewers BIGINT NOT NULL,
    max_reviewers BIGINT NOT NULL,
    -- Anonymous feedback never shows or stores who wrote an answer. Fixed once the first
    -- nomination exists, so a promise made to reviewers cannot change under them.
    anonymous    BIGINT NOT NULL,
    -- Set when HR closes the feedback: no more submissions, results are released. Final.
    closed_at    BIGINT,
    updated_at   BIGINT NOT NULL,
    UNIQUE (company_id, cycle_id),
    FOREIGN KEY (company_id, cycle_id) REFERENCES cycles (company_id, id),
    CHECK (min_reviewers >= 1 AND min_reviewers <= max_reviewers)
);

-- The feedback questionnaire of a cycle, apart from the review questions: feedback
-- about a colleague asks other things than a self review. Prompts are plain text, like
-- review questions.
CREATE TABLE feedback_questions (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    cycle_id    TEXT NOT NULL,
    position    BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('text', 'rating')),
    prompt      TEXT NOT NULL,
    UNIQUE (company_id, id),
    FOREIGN KEY (company_id, cycle_id) REFERENCES feedback_settings (company_id, cycle_id)
);
CREATE INDEX feedback_questions_cycle ON feedback_questions (company_id, cycle_id, position);

-- A nomination: `reviewer_id` is asked for feedback about `subject_id`. Once approved it
-- is the reviewer's feedback request and holds their draft.
CREATE TABLE feedback_requests (
    company_id   TEXT NOT NULL REFERENCES companies (id),
    id           TEXT NOT NULL PRIMARY KEY,
    cycle_id     TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    reviewer_id  TEXT NOT NULL,
    -- Who made the nomination.
    nominated_by TEXT NOT NULL,
    -- The decision of the subject's manager (or HR).
    approval     TEXT NOT NULL CHECK (approval IN ('pending', 'approved', 'rejected')),
    decided_by   TEXT,
    decided_at   BIGINT,
    created_at   BIGINT NOT NULL,
    -- The reviewer's progress. 'submitted' carries no time: the audit trail has it, for
    -- HR admins only.
    status       TEXT NOT NULL CHECK (status IN ('not_started', 'draft', 'submitted')),
    -- The reviewer's unsubmitted answers (JSON of question id to answer), sealed like
    -- review answers; emptied at submission, when the answers move to feedback_answers.
    draft        TEXT NOT NULL,
    -- Optimistic concurrency of draft saves.
    version      BIGINT NOT NULL,
    -- Last draft save; never touched by the submission itself.
    updated_at   BIGINT,
    UNIQUE (company_id, id),
    UNIQUE (company_id, cycle_id, subject_id, reviewer_id),
    CHECK (subject_id <> reviewer_id),
    FOREIGN KEY (company_id, cycle_id) REFERENCES feedback_settings (company_id, cycle_id),
    FOREIGN KEY (company_id, subject_id) REFERENCES users (company_id, id),
    FOREIGN KEY (company_id, reviewer_id) REFERENCES users (company_id, id),
    FOREIGN KEY (company_id, nominated_by) REFERENCES users (company_id, id),
    FOREIGN KEY (company_id, decided_by) REFERENCES users (company_id, id)
);
CREATE INDEX feedback_requests_subject ON feedback_requests (company_id, cycle_id, subject_id);
CREATE INDEX feedback_requests_reviewer ON feedback_requests (company_id, reviewer_id);

-- Submitted feedback. Anonymous rows have no author, request or time (the CHECK makes
-- the database refuse one that has); named rows keep all three.
CREATE TABLE feedback_answers (
    company_id   TEXT NOT NULL REFERENCES companies (id),
    -- Random; says nothing about when or by whom.
    id           TEXT NOT NULL PRIMARY KEY,
    cycle_id     TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    anonymous    BIGINT NOT NULL,
    author_id    TEXT,
    request_id   TEXT,
    -- JSON of question id to answer, sealed per field.
    answers      TEXT NOT NULL,
    submitted_at BIGINT,
    UNIQUE (company_id, id),
    CHECK ((anonymous = 1 AND author_id IS NULL AND request_id IS NULL
            AND submitted_at IS NULL)
        OR (anonymous = 0 AND author_id IS NOT NULL AND request_id IS NOT NULL
            AND submitted_at IS NOT NULL)),
    FOREIGN KEY (company_id, cycle_id) REFERENCES feedback_settings (company_id, cycle_id),
    FOREIGN KEY (company_id, subject_id) REFERENCES users (company_id, id),
    FOREIGN KEY (company_id, author_id) REFERENCES users (company_id, id),
    FOREIGN KEY (company_id, request_id) REFERENCES feedback_requests (company_id, id)
);
CREATE INDEX feedback_answers_subject ON feedback_answers (company_id, cycle_id, subject_id);
