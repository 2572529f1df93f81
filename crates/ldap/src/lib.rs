//! Reading the corporate directory (docs/directory.md) with `ldap3` over rustls: a search
//! through an LDAP profile's servers, the primary first and each backup in order when one does
//! not answer (every search starts again from the primary, so the primary is used again as soon
//! as it is back, as the seed's client does); one bind with the profile's credentials; paged
//! results (RFC 2696), so a directory's size limit does not cut the answer short.
#![forbid(unsafe_code)]

pub mod sync;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use model::LdapSecurity;
use std::collections::HashMap;
use std::time::Duration;

/// One server of a profile, as the search reaches it.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub security: LdapSecurity,
    /// The PEM file of the CA TLS checks the server against; empty: the system's roots.
    pub ca_file: String,
}

impl Server {
    fn url(&self) -> String {
        let scheme = match self.security {
            LdapSecurity::Ldaps => "ldaps",
            _ => "ldap",
        };
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }
}

/// A search.
#[derive(Clone)]
pub struct Query {
    /// The primary first, then the backups in order.
    pub servers: Vec<Server>,
    /// `None`: an anonymous bind.
    pub bind: Option<(String, String)>,
    pub base: String,
    pub recursive: bool,
    pub filter: String,
    pub attributes: Vec<String>,
    /// For connecting, and for each operation.
    pub timeout: Duration,
    pub page_size: i32,
}

impl std::fmt::Debug for Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("servers", &self.servers)
            .field("bind_dn", &self.bind.as_ref().map(|b| &b.0))
            .field("base", &self.base)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

/// An entry: its DN and its attributes (names in lower case, values as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: HashMap<String, Vec<String>>,
}

impl Entry {
    /// The first value of an attribute (any case).
    pub fn first(&self, attribute: &str) -> Option<&str> {
        self.attrs
            .get(&attribute.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// What a search found, and from where.
#[derive(Debug, Clone)]
pub struct Found {
    /// The server that answered.
    pub server: String,
    pub entries: Vec<Entry>,
    /// The servers tried before it, and why they did not answer.
    pub unreachable: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no LDAP server of the profile answered: {}", list(.0))]
    Unreachable(Vec<(String, String)>),
    /// The server refused the bind (the same credentials go to every server of a profile, so
    /// the next one is not tried).
    #[error("{server} refused the bind as {who}: {why}")]
    Bind {
        server: String,
        who: String,
        why: String,
    },
    #[error("{server}: the search of {base} failed: {why}")]
    Search {
        server: String,
        base: String,
        why: String,
    },
}

fn list(v: &[(String, String)]) -> String {
    v.iter()
        .map(|(s, why)| format!("{s} ({why})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether an ldap3 error means the server did not answer (try the next one) rather than that
/// it answered no.
fn unreachable(e: &ldap3::LdapError) -> bool {
    !matches!(e, ldap3::LdapError::LdapResult { .. })
}

/// Runs `q` against its servers in order until one answers.
pub async fn search(q: &Query) -> Result<Found, Error> {
    let mut tried = Vec::new();
    for s in &q.servers {
        match search_one(q, s).await {
            Ok(entries) => {
                if !tried.is_empty() {
                    tracing::warn!(server = %s.name, unreachable = %list(&tried), "LDAP: answered by a backup server");
                }
                return Ok(Found {
                    server: s.name.clone(),
                    entries,
                    unreachable: tried,
                });
            }
            Err(Attempt::Unreachable(why)) => {
                tracing::info!(server = %s.name, %why, "LDAP: no answer, trying the next server");
                tried.push((s.name.clone(), why));
            }
            Err(Attempt::Failed(e)) => return Err(e),
        }
    }
    Err(Error::Unreachable(tried))
}

enum Attempt {
    Unreachable(String),
    Failed(Error),
}

/// A TLS client configuration trusting the CAs of a PEM file.
fn tls_config(ca_file: &str) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file).map_err(|e| e.to_string())?;
    for c in certs {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    if roots.is_empty() {
        return Err("it holds no certificate".into());
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())
    .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

async fn search_one(q: &Query, s: &Server) -> Result<Vec<Entry>, Attempt> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(q.timeout)
        .set_starttls(s.security == LdapSecurity::StartTls);
    if s.security != LdapSecurity::Tcp && !s.ca_file.trim().is_empty() {
        let config = tls_config(s.ca_file.trim())
            .map_err(|why| Attempt::Unreachable(format!("the CA file {}: {why}", s.ca_file)))?;
        settings = settings.set_config(std::sync::Arc::new(config));
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &s.url())
        .await
        .map_err(|e| Attempt::Unreachable(e.to_string()))?;
    let driver = tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(%e, "LDAP: connection ended");
        }
    });
    let result = async {
        ldap.with_timeout(q.timeout);
        let (dn, pw) = q.bind.clone().unwrap_or_default();
        let who = if dn.is_empty() {
            "anonymous".to_string()
        } else {
            dn.clone()
        };
        match ldap.simple_bind(&dn, &pw).await {
            Err(e) if unreachable(&e) => return Err(Attempt::Unreachable(e.to_string())),
            Err(e) => {
                return Err(Attempt::Failed(Error::Bind {
                    server: s.name.clone(),
                    who,
                    why: e.to_string(),
                }))
            }
            Ok(r) => {
                if let Err(e) = r.success() {
                    return Err(Attempt::Failed(Error::Bind {
                        server: s.name.clone(),
                        who,
                        why: e.to_string(),
                    }));
                }
            }
        }
        let failed = |why: String| {
            Attempt::Failed(Error::Search {
                server: s.name.clone(),
                base: q.base.clone(),
                why,
            })
        };
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(q.page_size.max(1))),
        ];
        let scope = if q.recursive {
            Scope::Subtree
        } else {
            Scope::OneLevel
        };
        ldap.with_timeout(q.timeout);
        let mut stream = ldap
            .streaming_search_with(adapters, &q.base, scope, &q.filter, q.attributes.clone())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut out = Vec::new();
        while let Some(e) = stream.next().await.map_err(|e| failed(e.to_string()))? {
            let e = SearchEntry::construct(e);
            let mut attrs: HashMap<String, Vec<String>> = e
                .attrs
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            for (k, v) in e.bin_attrs {
                // Binary values (a jpegPhoto) are not text: kept as their size, for now.
                attrs
                    .entry(k.to_ascii_lowercase())
                    .or_default()
                    .extend(v.iter().map(|b| format!("<{} bytes>", b.len())));
            }
            out.push(Entry { dn: e.dn, attrs });
        }
        stream
            .finish()
            .await
            .success()
            .map_err(|e| failed(e.to_string()))?;
        let _ = ldap.unbind().await;
        Ok(out)
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let s = |host: &str, port, security| Server {
            name: "x".into(),
            host: host.into(),
            port,
            security,
            ca_file: String::new(),
        };
        assert_eq!(
            s("dc1.example.com", 389, LdapSecurity::Tcp).url(),
            "ldap://dc1.example.com:389"
        );
        assert_eq!(
            s("10.0.0.5", 636, LdapSecurity::Ldaps).url(),
            "ldaps://10.0.0.5:636"
        );
        assert_eq!(
            s("10.0.0.5", 389, LdapSecurity::StartTls).url(),
            "ldap://10.0.0.5:389"
        );
        assert_eq!(s("::1", 389, LdapSecurity::Tcp).url(), "ldap://[::1]:389");
    }
}
