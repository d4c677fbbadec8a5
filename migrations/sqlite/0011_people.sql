-- People: the department each user belongs to, for cycles aimed at departments and for
-- progress broken down by department. Free text, as HR names them; NULL when unset.

ALTER TABLE users ADD COLUMN department TEXT;
CREATE INDEX users_department ON users (company_id, department);
