-- A phone's own HTTP password for the files that need it (system setting `phone_auth`):
-- encrypted (ChaCha20-Poly1305) like the SIP digest credentials, because it goes into the
-- phone's profile rule (`[--uid $MA --pwd …]`) and Digest needs it in clear.
ALTER TABLE devices ADD COLUMN http_password_enc TEXT;
