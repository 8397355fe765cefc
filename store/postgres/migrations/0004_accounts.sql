-- Accounts: proven emails and look-alike-proof identity keys.
--
-- confirmed: the email is proven (confirmation link, magic link, password
-- reset) or came from a trusted system. Existing accounts without a password
-- (magic-link and external users) proved theirs; password sign-ups never
-- did, so the first proof by their email's owner ends the other sessions
-- and the password that nobody proved.
ALTER TABLE users ADD COLUMN confirmed boolean NOT NULL DEFAULT false;
UPDATE users SET confirmed = true WHERE password_hash = '';
-- password_unproven: the password was chosen by someone who had not proven
-- the email; the next magic-link proof voids it.
ALTER TABLE users ADD COLUMN password_unproven boolean NOT NULL DEFAULT false;
UPDATE users SET password_unproven = true WHERE password_hash <> '';

-- email_key / username_key hold sessionmanager.IdentityKey (NFKC, case
-- folded, no format characters, look-alike letters mapped): uniqueness and
-- lookup go through them. NULL until the store backfills the row in Go
-- after the migration (the key is not expressible in SQL).
ALTER TABLE users ADD COLUMN email_key text, ADD COLUMN username_key text;
CREATE UNIQUE INDEX users_email_norm_key ON users (email_key) WHERE email_key <> '';
CREATE UNIQUE INDEX users_username_norm_key ON users (username_key) WHERE username_key <> '';
CREATE INDEX users_key_missing_idx ON users (id) WHERE email_key IS NULL OR username_key IS NULL;
