-- Review cycles in phases: self review, manager review, sharing with the reviewee and
-- sign-off, each with its own deadline; a configurable rating scale; calibration of
-- manager ratings by HR; signatures; reminders sent once; and the company's choice of
-- whether managers see the reviews of their reports' reports.

-- Where the cycle stands. HR moves it forward one phase at a time; `closed` goes with
-- status `closed`, and nothing in a closed cycle changes any more.
ALTER TABLE cycles ADD COLUMN phase TEXT NOT NULL DEFAULT 'self_review'
    CHECK (phase IN ('self_review', 'manager_review', 'sharing', 'sign_off', 'closed'));
-- The rating scale answers are checked against; 1..5 was the only scale before.
ALTER TABLE cycles ADD COLUMN rating_min BIGINT NOT NULL DEFAULT 1;
ALTER TABLE cycles ADD COLUMN rating_max BIGINT NOT NULL DEFAULT 5;
-- The deadline of each phase that has one (UTC ms); reminders and `overdue` use them.
ALTER TABLE cycles ADD COLUMN self_review_due_at BIGINT;
ALTER TABLE cycles ADD COLUMN manager_review_due_at BIGINT;
ALTER TABLE cycles ADD COLUMN sign_off_due_at BIGINT;

-- Who shared a manager review with its reviewee and when; kept for the record.
ALTER TABLE reviews ADD COLUMN shared_at BIGINT;
ALTER TABLE reviews ADD COLUMN shared_by TEXT;
-- The two signatures of a shared review; it is `signed` once both are there.
ALTER TABLE reviews ADD COLUMN reviewee_signed_at BIGINT;
ALTER TABLE reviews ADD COLUMN reviewer_signed_at BIGINT;

-- Ratings HR calibrated on a manager review. The manager's own ratings stay in the
-- review's answers; these replace them in what the reviewee is shown. Ratings are
-- written content, so the JSON (question id → rating) is sealed like the answers.
CREATE TABLE calibrations (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    review_id   TEXT NOT NULL PRIMARY KEY,
    ratings     TEXT NOT NULL,
    calibrated_by TEXT NOT NULL,
    calibrated_at BIGINT NOT NULL,
    UNIQUE (company_id, review_id),
    FOREIGN KEY (company_id, review_id) REFERENCES reviews (company_id, id),
    FOREIGN KEY (company_id, calibrated_by) REFERENCES users (company_id, id)
);

-- Every reminder sent, so that each person gets one per cycle, phase and kind
-- (`upcoming` before the deadline, `overdue` after it) however often the task runs.
CREATE TABLE reminders_sent (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    cycle_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    phase       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('upcoming', 'overdue')),
    sent_at     BIGINT NOT NULL,
    PRIMARY KEY (company_id, cycle_id, user_id, phase, kind),
    FOREIGN KEY (company_id, cycle_id) REFERENCES cycles (company_id, id),
    FOREIGN KEY (company_id, user_id) REFERENCES users (company_id, id)
);

-- Whether managers see the reviews of everyone below them (on, the default, as API.md
-- promises "their managers") or of their direct reports only (off).
ALTER TABLE companies ADD COLUMN skip_level_visible BIGINT NOT NULL DEFAULT 1;
