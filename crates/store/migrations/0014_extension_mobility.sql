-- Extension mobility (docs/phones.md): who is logged in on which phone, with which device
-- profile, until when. A phone has at most one login; deleting the phone or the user ends it;
-- a profile in use cannot be deleted (the service says who uses it).
CREATE TABLE em_logins (
    device_id {int} PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    user_id {int} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    profile_id {int} NOT NULL REFERENCES devices(id),
    logged_in_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX em_logins_user ON em_logins (user_id);
CREATE INDEX em_logins_profile ON em_logins (profile_id);
CREATE INDEX em_logins_expires ON em_logins (expires_at);
