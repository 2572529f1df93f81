//! Secrets that must be given back in clear (SIP digest credentials go into phone
//! configurations) are sealed with ChaCha20-Poly1305 under the installation's secret key before
//! they reach the store. The database records a sealed check value, so a node started with
//! another key refuses to start instead of failing later on every phone.

use crate::{Error, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

const PREFIX: &str = "v1:";
const CHECK: &str = "dialtone secret key check";
pub(crate) const CHECK_SETTING: &str = "secret_key_check";

/// The installation's secret key: 32 bytes. Never printed.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> SecretKey {
        SecretKey(ChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// A key from its base64 text (as a key file holds it).
    pub fn from_base64(text: &str) -> Result<SecretKey> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            Error::Internal(
                "the secret key is not base64: it is 32 random bytes in base64 (44 characters)"
                    .into(),
            )
        })?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::Internal(
                "the secret key is not 32 bytes: it is 32 random bytes in base64 (44 characters)"
                    .into(),
            )
        })?;
        Ok(SecretKey(arr))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0))
    }

    /// Seals a secret: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plain: &str) -> Result<String> {
        self.seal_bytes(plain.as_bytes())
    }

    /// Seals bytes as [`SecretKey::seal`] seals text.
    pub fn seal_bytes(&self, plain: &[u8]) -> Result<String> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = self
            .cipher()
            .encrypt(&nonce, plain)
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
    }

    /// [`SecretKey::seal_bytes`] of `plain`, encrypted where it is: a large file costs its
    /// size once more (as base64), not three times.
    pub fn seal_vec(&self, mut plain: Vec<u8>) -> Result<String> {
        use chacha20poly1305::aead::AeadInPlace;
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        self.cipher()
            .encrypt_in_place(&nonce, b"", &mut plain)
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = String::with_capacity(PREFIX.len() + (12 + plain.len()).div_ceil(3) * 4);
        out.push_str(PREFIX);
        // The nonce first, as `seal_bytes` writes it: 12 bytes are whole base64 groups.
        STANDARD.encode_string(nonce, &mut out);
        STANDARD.encode_string(&plain, &mut out);
        Ok(out)
    }

    /// Opens what `seal` made with the same key.
    pub fn open(&self, sealed: &str) -> Result<String> {
        String::from_utf8(self.open_bytes(sealed)?).map_err(|_| {
            Error::Internal("a sealed secret cannot be opened with this secret key".into())
        })
    }

    /// Opens what `seal_bytes` made with the same key.
    pub fn open_bytes(&self, sealed: &str) -> Result<Vec<u8>> {
        let wrong =
            || Error::Internal("a sealed secret cannot be opened with this secret key".into());
        let raw = STANDARD
            .decode(sealed.strip_prefix(PREFIX).ok_or_else(wrong)?)
            .map_err(|_| wrong())?;
        if raw.len() < 12 {
            return Err(wrong());
        }
        let (nonce, ct) = raw.split_at(12);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| wrong())
    }

    /// A key for one purpose: HMAC-SHA256 of the purpose under this key, so every node started
    /// with the installation's key derives the same one, and no purpose's key reveals another's.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        m.update(purpose.as_bytes());
        m.finalize().into_bytes().into()
    }

    pub(crate) fn check_value(&self) -> Result<String> {
        self.seal(CHECK)
    }

    pub(crate) fn matches(&self, check: &str) -> bool {
        self.open(check).map(|s| s == CHECK).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let k = SecretKey::generate();
        let sealed = k.seal("s1p-secret").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("s1p-secret"));
        assert_ne!(
            sealed,
            k.seal("s1p-secret").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(k.open(&sealed).unwrap(), "s1p-secret");
        let other = SecretKey::generate();
        assert!(other.open(&sealed).is_err());
        assert!(k.matches(&k.check_value().unwrap()));
        assert!(!other.matches(&k.check_value().unwrap()));
        let again = SecretKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "s1p-secret");
        assert!(SecretKey::from_base64("c2hvcnQ=").is_err());
        assert!(!format!("{k:?}").contains(&k.to_base64()));
        assert_eq!(k.derive("a"), again.derive("a"));
        assert_ne!(k.derive("a"), k.derive("b"));
        assert_ne!(k.derive("a"), other.derive("a"));
    }
}
