-- When an HR admin last lost the role or was disabled. For a week after that a wipe of the
-- company's content is refused to the admins who are left: demoting the others must not
-- be a way around the second admin's confirmation.

ALTER TABLE companies ADD COLUMN admin_removed_at BIGINT NOT NULL DEFAULT 0;
