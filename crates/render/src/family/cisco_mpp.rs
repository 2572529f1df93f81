//! Cisco 7800/8800 multiplatform (MPP) phones: the first-contact file `<PSN>.xml` (or
//! `spa<PSN>.cfg`), the same for every phone of a model, sends a phone on to its own
//! `<mac>.xml` flat profile. Their User-Agent names them
//! (`Cisco-CP-8861-3PCC/11.3.1 (00562b043615)`). They resync on `Event: resync` when their
//! Resync From SIP parameter is on (docs/phones.md, "Profile rules and resync (MPP)").

use super::{strip_prefix_ci, strip_suffix_ci, Asked, DeviceKey, Family, ResyncBy};
use crate::{DeviceView, RenderError, Rendered, Renderer};
use model::{Catalog, DeviceFamily, Mac};

pub(crate) struct CiscoMpp;

const FIRST_CONTACT: &str = "<PSN>.xml";

impl Family for CiscoMpp {
    fn name(&self) -> &'static str {
        "cisco-mpp"
    }

    fn kinds(&self) -> &'static [DeviceFamily] {
        &[DeviceFamily::Mpp]
    }

    fn patterns(&self) -> &'static [&'static str] {
        &[FIRST_CONTACT, "<mac>.xml"]
    }

    fn sends_credentials(&self) -> bool {
        true
    }

    fn identify(&self, file: &str) -> Option<Asked> {
        if let Some(rest) = strip_suffix_ci(file, ".xml") {
            if let Some(m) = super::mac_of(rest) {
                return Some(Asked::Device(DeviceKey::Mac(m)));
            }
        }
        // Its own file encrypted (`<mac>.cfg`, [`plain_of_encrypted`]).
        if let Some(m) = strip_suffix_ci(file, ".cfg").and_then(super::mac_of) {
            return Some(Asked::Device(DeviceKey::Mac(m)));
        }
        let psn = strip_suffix_ci(file, ".xml")
            .or_else(|| strip_suffix_ci(file, ".cfg").and_then(|r| strip_prefix_ci(r, "spa")))?;
        Catalog::builtin()
            .devices()
            .any(|t| {
                t.psn
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(psn))
            })
            .then_some(Asked::FirstContact)
    }

    fn model_of_request(&self, file: &str, ua: &str) -> Option<String> {
        // `Cisco-CP-8861-3PCC/11.3.1 (…)`, or the first-contact file `8861-3PCC.xml`.
        let psn = ua
            .strip_prefix("Cisco-CP-")
            .and_then(|r| r.split('/').next())
            .or_else(|| {
                strip_suffix_ci(file, ".xml").or_else(|| {
                    strip_suffix_ci(file, ".cfg").and_then(|r| strip_prefix_ci(r, "spa"))
                })
            })?;
        Catalog::builtin()
            .devices()
            .find(|t| {
                t.psn
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(psn))
            })
            .map(|t| t.model.clone())
    }

    fn device_from_user_agent(&self, ua: &str) -> Option<Mac> {
        if !ua.starts_with("Cisco-CP-") {
            return None;
        }
        let inner = ua.rsplit_once('(')?.1.split(')').next()?;
        Mac::parse(inner.trim()).ok()
    }

    fn render(
        &self,
        r: &Renderer,
        view: &DeviceView,
        pattern: &str,
    ) -> Result<Rendered, RenderError> {
        if pattern == FIRST_CONTACT {
            r.render_first_contact(&view.provisioning_rule)
        } else {
            r.render_with(
                "mpp-device.xml.j2",
                || view.context(),
                || crate::native::mpp_device(view),
            )
        }
    }

    fn resync(&self, view: &DeviceView) -> ResyncBy {
        super::unless_resync_off(view, "resync")
    }
}

/// The plain file an encrypted one is of: `<mac>.cfg` is `<mac>.xml` encrypted with the phone's
/// profile key (the name Cisco's guides give encrypted profiles).
pub fn plain_of_encrypted(file: &str) -> Option<String> {
    let rest = strip_suffix_ci(file, ".cfg")?;
    (rest.len() == 12 && Mac::parse(rest).is_ok()).then(|| format!("{rest}.xml"))
}

/// The phone's own file name of its encrypted profile.
pub const ENCRYPTED_FILE: &str = "$MA.cfg";

/// `plain` encrypted as `openssl enc -e -aes-256-cbc -md md5 -k KEY` does, which is what the
/// phones decrypt ("tested against openssl-0.9.7c", whose key derivation is MD5): `Salted__`,
/// the 8-byte `salt`, then AES-256-CBC with PKCS#7 padding under the key and IV that
/// `EVP_BytesToKey(MD5, salt, key, 1)` derives.
pub fn encrypt_profile(plain: &[u8], key: &str, salt: [u8; 8]) -> Vec<u8> {
    use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
    use md5::{Digest, Md5};
    let mut derived = Vec::with_capacity(48);
    let mut last: Vec<u8> = Vec::new();
    while derived.len() < 48 {
        let mut h = Md5::new();
        h.update(&last);
        h.update(key.as_bytes());
        h.update(salt);
        last = h.finalize().to_vec();
        derived.extend_from_slice(&last);
    }
    let (k, iv) = (&derived[..32], &derived[32..48]);
    let cipher = cbc::Encryptor::<aes::Aes256>::new(k.into(), iv.into());
    let body = cipher.encrypt_padded_vec_mut::<Pkcs7>(plain);
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(b"Salted__");
    out.extend_from_slice(&salt);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_names_map_to_the_plain_file() {
        assert_eq!(
            plain_of_encrypted("00562B043615.cfg").as_deref(),
            Some("00562B043615.xml")
        );
        assert_eq!(plain_of_encrypted("spa8861-3PCC.cfg"), None);
        assert_eq!(plain_of_encrypted("00562b04361.cfg"), None);
        assert_eq!(plain_of_encrypted("00562b043615.xml"), None);
    }

    #[test]
    fn encryption_is_openssls_salted_format() {
        // `printf 'hello profile' | openssl enc -e -aes-256-cbc -md md5 -k SecretPhrase1234
        //  -S 0102030405060708 | xxd -p`, run once with OpenSSL 3.0.19; the phone file tests
        // decrypt with the real openssl on every run.
        let out = encrypt_profile(
            b"hello profile",
            "SecretPhrase1234",
            [1, 2, 3, 4, 5, 6, 7, 8],
        );
        assert_eq!(&out[..8], b"Salted__");
        assert_eq!(&out[8..16], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(out.len(), 16 + 16, "13 bytes pad to one block");
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, OPENSSL);
    }

    /// `Salted__`, the salt, and what OpenSSL 3.0 wrote (with `-S` it leaves the header out).
    const OPENSSL: &str = "53616c7465645f5f01020304050607085934eeae64fb82603bf43932a57ad6c2";
}
