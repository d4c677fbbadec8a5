-- Objectives with their key results, their links into review cycles, and comments on
-- reviews and objectives.
--
-- Objectives live outside review cycles: they form one tree per company (company →
-- team → person) through `parent_id`. Titles, descriptions, key result titles and
-- comment bodies are written content, sealed per field like review answers (see
-- `ENCRYPTED_FIELDS` in actors/src/crypto/mod.rs); levels, owners, numbers and times
-- stay plain so they can be filtered and counted.

CREATE TABLE objectives (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    -- Who sees it: company and team objectives the whole company (alignment needs
    -- them), person objectives their owner, the owner's managers and HR admins.
    level       TEXT NOT NULL CHECK (level IN ('company', 'team', 'person')),
    -- The person answerable for it: an HR admin for company objectives, a manager for
    -- team objectives, the person for their own.
    owner_id    TEXT NOT NULL,
    -- The objective this one contributes to; NULL for a root. The actor refuses loops
    -- and trees deeper than a few levels.
    parent_id   TEXT,
    -- Sealed: written content.
    title       TEXT NOT NULL,
    -- Sealed: written content (an empty text is sealed too).
    description TEXT NOT NULL,
    status      TEXT NOT NULL
        CHECK (status IN ('draft', 'on_track', 'at_risk', 'off_track', 'done')),
    -- Optional weight among the owner's objectives, 1 to 100.
    weight      BIGINT,
    due_at      BIGINT,
    -- Set when archived: kept for history and alignment, hidden from lists by default.
    archived_at BIGINT,
    -- Optimistic concurrency: every change must name the version it was based on.
    version     BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (company_id, id),
    FOREIGN KEY (company_id, owner_id) REFERENCES users (company_id, id),
    FOREIGN KEY (company_id, created_by) REFERENCES users (company_id, id),
    FOREIGN KEY (company_id, parent_id) REFERENCES objectives (company_id, id)
);
CREATE INDEX objectives_owner ON objectives (company_id, owner_id);
CREATE INDEX objectives_parent ON objectives (company_id, parent_id);

CREATE TABLE key_results (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    objective_id TEXT NOT NULL,
    -- Order within the objective.
    position    BIGINT NOT NULL,
    -- Sealed: written content.
    title       TEXT NOT NULL,
    -- 0 to 100. For a measured key result (target set) it is derived from the values.
    progress    BIGINT NOT NULL CHECK (progress BETWEEN 0 AND 100),
    -- A measured key result goes from start to target; all three NULL for a plain
    -- percentage.
    start_value DOUBLE PRECISION,
    current_value DOUBLE PRECISION,
    target_value DOUBLE PRECISION,
    updated_at  BIGINT NOT NULL,
    UNIQUE (company_id, id),
    FOREIGN KEY (company_id, objective_id) REFERENCES objectives (company_id, id)
);
CREATE INDEX key_results_objective ON key_results (company_id, objective_id, position);

-- An objective brought into a review cycle, so that the reviewers of its owner see it.
CREATE TABLE objective_cycles (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    objective_id TEXT NOT NULL,
    cycle_id    TEXT NOT NULL,
    -- Optional weight of the objective in that cycle, 1 to 100.
    weight      BIGINT,
    linked_by   TEXT NOT NULL,
    linked_at   BIGINT NOT NULL,
    PRIMARY KEY (objective_id, cycle_id),
    FOREIGN KEY (company_id, objective_id) REFERENCES objectives (company_id, id),
    FOREIGN KEY (company_id, cycle_id) REFERENCES cycles (company_id, id),
    FOREIGN KEY (company_id, linked_by) REFERENCES users (company_id, id)
);
CREATE INDEX objective_cycles_cycle ON objective_cycles (company_id, cycle_id);

-- Comments on a review or an objective (exactly one of them). Seen by exactly those who
-- may see what they comment on.
CREATE TABLE comments (
    company_id  TEXT NOT NULL REFERENCES companies (id),
    id          TEXT NOT NULL PRIMARY KEY,
    review_id   TEXT,
    objective_id TEXT,
    author_id   TEXT NOT NULL,
    -- Sealed: written content.
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CHECK ((review_id IS NULL) <> (objective_id IS NULL)),
    UNIQUE (company_id, id),
    FOREIGN KEY (company_id, review_id) REFERENCES reviews (company_id, id),
    FOREIGN KEY (company_id, objective_id) REFERENCES objectives (company_id, id),
    FOREIGN KEY (company_id, author_id) REFERENCES users (company_id, id)
);
CREATE INDEX comments_review ON comments (company_id, review_id, created_at);
CREATE INDEX comments_objective ON comments (company_id, objective_id, created_at);
