-- Spending a user's unused links and codes (a password change, reset or
-- email proof) finds them by user.
CREATE INDEX magic_links_unused_user ON magic_links (user_id) WHERE used_at IS NULL;
