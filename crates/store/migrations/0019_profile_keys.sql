-- MPP encrypted profiles (issue 16): the key phones of a system decrypt their files with, and a
-- phone's own key over it; both sealed under the installation's secret key.
ALTER TABLE systems ADD COLUMN profile_key_enc TEXT;
ALTER TABLE devices ADD COLUMN profile_key_enc TEXT;
