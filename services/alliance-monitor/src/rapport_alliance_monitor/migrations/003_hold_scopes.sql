-- The scopes a held event waits for: a grant re-decides only the held events waiting for its scope (a
-- revocation, an expiry or a grant of another scope cannot change their answer). NULL: held before this
-- column existed, re-decided on any grant for the client as before.
ALTER TABLE consent_holds ADD COLUMN waiting_for text[];
