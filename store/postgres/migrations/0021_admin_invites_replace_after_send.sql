-- Admin invitations: a new invitation for an email replaces the pending
-- one only once its email was sent (a failed send leaves the earlier link
-- working), so for that moment two are pending for one email. The newest
-- sent one stays; the unique index becomes a plain one for the lookup.
DROP INDEX admin_invites_pending_email;
CREATE INDEX admin_invites_pending_email ON admin_invites (lower(email)) WHERE used_at IS NULL AND revoked_at IS NULL;
