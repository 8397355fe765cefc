-- The client's own name for its device (Strapi 5's deviceId): given at
-- sign-in, shown on the session record, and the key of a logout of one
-- device ({"deviceId"}), which finds a user's live sessions by it.
ALTER TABLE sessions ADD COLUMN device_id text NOT NULL DEFAULT '';
CREATE INDEX sessions_user_device ON sessions (user_id, device_id) WHERE device_id <> '' AND status <> 'ended';
