-- DPoP (RFC 9449): the RFC 7638 thumbprint of the key a session is bound
-- to ('' for a bearer session). Its refresh needs a proof by that key, and
-- its access tokens carry it as cnf.jkt.
ALTER TABLE sessions ADD COLUMN dpop_jkt text NOT NULL DEFAULT '';
