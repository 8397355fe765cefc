-- Admin invitations: at most one pending per email (case-insensitive),
-- revocable (by an owner, by a newer invitation for the same email, or
-- because the inviter was deactivated), the reason kept for the page the
-- link opens. Older duplicates pending today are revoked as replaced.
ALTER TABLE admin_invites ADD COLUMN revoked_at timestamptz;
ALTER TABLE admin_invites ADD COLUMN revoked_reason text NOT NULL DEFAULT '';

UPDATE admin_invites SET revoked_at = now(), revoked_reason = 'replaced'
WHERE used_at IS NULL AND EXISTS (
    SELECT 1 FROM admin_invites n
    WHERE lower(n.email) = lower(admin_invites.email) AND n.used_at IS NULL
      AND (n.created_at > admin_invites.created_at OR (n.created_at = admin_invites.created_at AND n.hash > admin_invites.hash)));

CREATE UNIQUE INDEX admin_invites_pending_email ON admin_invites (lower(email)) WHERE used_at IS NULL AND revoked_at IS NULL;
CREATE INDEX admin_invites_inviter ON admin_invites (invited_by) WHERE used_at IS NULL AND revoked_at IS NULL;
