//! HTTPS for the admin and phone listeners: the operator's certificate and key (PEM), or a
//! self-signed certificate made at first start. Either way the server logs the certificate's
//! SHA-256 fingerprint, what a browser or `curl --pinnedpubkey`-minded operator checks against.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

pub use rustls::ServerConfig;

/// What the HTTPS listeners present.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the leaf certificate (DER), as `AB:CD:…`.
    pub fingerprint: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// A certificate and its private key, both PEM.
pub struct Pem {
    pub certificate: String,
    pub private_key: String,
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pem")
            .field("certificate", &self.certificate)
            .field("private_key", &"***")
            .finish()
    }
}

/// A self-signed certificate for `names` (host names or IP addresses), good for ten years.
pub fn self_signed(names: &[String]) -> Result<Pem, String> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| format!("a name for the certificate: {e}"))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "Dialtone");
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let key = rcgen::KeyPair::generate().map_err(|e| format!("a key pair: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("signing the certificate: {e}"))?;
    Ok(Pem {
        certificate: cert.pem(),
        private_key: key.serialize_pem(),
    })
}

/// The server configuration for a PEM certificate chain (leaf first) and private key (PKCS#8,
/// PKCS#1 or SEC1). `what` names where they came from, for the errors.
pub fn from_pem(pem: &Pem, what: &str) -> Result<Tls, String> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pem.certificate.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{what}: the certificate is not PEM: {e}"))?;
    let Some(leaf) = chain.first() else {
        return Err(format!(
            "{what}: no certificate (a `BEGIN CERTIFICATE` block) in it"
        ));
    };
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_slice(pem.private_key.as_bytes())
        .map_err(|e| format!("{what}: no private key in PEM form: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("{what}: the certificate and the key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        config: Arc::new(config),
        fingerprint,
    })
}

/// Reads `certificate` and `private_key` (PEM files).
pub fn from_files(certificate: &Path, private_key: &Path) -> Result<Tls, String> {
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let pem = Pem {
        certificate: read(certificate)?,
        private_key: read(private_key)?,
    };
    from_pem(
        &pem,
        &format!("{} and {}", certificate.display(), private_key.display()),
    )
}

/// SHA-256 of a certificate, as upper-case hexadecimal pairs joined by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_loads_and_names_its_fingerprint() {
        let pem = self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        assert!(pem.certificate.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!format!("{pem:?}").contains("PRIVATE KEY"));
        let tls = from_pem(&pem, "test").unwrap();
        assert_eq!(tls.fingerprint.len(), 32 * 3 - 1);
        let der = CertificateDer::from_pem_slice(pem.certificate.as_bytes()).unwrap();
        assert_eq!(tls.fingerprint, fingerprint(&der));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let a = self_signed(&["a.example".into()]).unwrap();
        let b = self_signed(&["b.example".into()]).unwrap();
        let mixed = Pem {
            certificate: a.certificate,
            private_key: b.private_key,
        };
        let e = from_pem(&mixed, "x").unwrap_err();
        assert!(e.contains("do not go together"), "{e}");
        let e = from_pem(
            &Pem {
                certificate: "nothing".into(),
                private_key: String::new(),
            },
            "x",
        )
        .unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
    }
}
