-- Accounts: proven emails and look-alike-proof identity keys.
--
-- confirmed: the email is proven (confirmation link, magic link, password
-- reset) or came from a trusted system. Existing accounts without a password
-- (magic-link and external users) proved theirs; password sign-ups never
-- did, so the first proof by their email's owner ends the other sessions
-- and the password that nobody proved.
ALTER TABLE users ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
UPDATE users SET confirmed = 1 WHERE password_hash = '';
-- password_unproven: the password was chosen by someone who had not proven
-- the email; the next magic-link proof voids it.
ALTER TABLE users ADD COLUMN password_unproven INTEGER NOT NULL DEFAULT 0;
UPDATE users SET password_unproven = 1 WHERE password_hash <> '';

-- key_form: 0 = email_key/username_key are only lower-cased (0001); 1 =
-- they hold sessionmanager.IdentityKey (NFKC, case folded, no format
-- characters, look-alike letters mapped). The store rewrites the rows at 0
-- after the migration, in Go (the key is not expressible in SQL).
ALTER TABLE users ADD COLUMN key_form INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_key_form ON users (key_form) WHERE key_form = 0;
