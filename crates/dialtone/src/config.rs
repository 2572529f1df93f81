//! Layered configuration: defaults, then a TOML file, then `DIALTONE_…` environment variables
//! (`DIALTONE_DATABASE__URL`, `DIALTONE_ADMIN__LISTEN`, `DIALTONE_ADMIN_PASSWORD`), then flags.
//! A secret may instead be read from a file named by the same variable with `_FILE`.

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Serialize, Deserialize)]
pub struct Config {
    pub database: Database,
    pub admin: Admin,
    #[serde(default)]
    pub http: Http,
    #[serde(default)]
    pub tftp: Tftp,
    #[serde(default)]
    pub sip: Sip,
    #[serde(default)]
    pub syslog: Syslog,
    /// A directory of operator templates (`*.j2`) that override or add to the built-in ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<String>,
    /// Password of the `admin` administrator created at first start (never printed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<String>,
    /// A file holding that password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_file: Option<String>,
    /// The key that seals SIP credentials at rest: 32 bytes in base64 (never printed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// A file holding that key; created when missing. Default: beside the SQLite file
    /// (`dialtone.db.key`), or `dialtone.key` in the working directory for PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<String>,
    pub log: Log,
    #[serde(default)]
    pub licensing: Licensing,
    #[serde(default)]
    pub firmware: FirmwareConfig,
    #[serde(default)]
    pub import: ImportConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub cluster: ClusterConfig,
}

/// This server as a node of a cluster on one PostgreSQL database (docs/scale-out.md). A
/// single server is a cluster of one node.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// The node's name, unique in the cluster. Default: this machine's host name.
    #[serde(default)]
    pub node: String,
    /// The address phones are given for this node in TFTP server lists (soft clients'
    /// configuration files), when the system names none. Default: the TFTP listener's address,
    /// unless it listens on every interface (then give it here).
    #[serde(default)]
    pub tftp_host: String,
}

/// The certificate of the HTTPS listeners.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TlsConfig {
    /// The certificate chain (PEM, leaf first). Without it and `private_key_file`, a
    /// self-signed certificate is made at first start and kept beside the database.
    #[serde(default)]
    pub certificate_file: Option<String>,
    /// Its private key (PEM).
    #[serde(default)]
    pub private_key_file: Option<String>,
    /// Host names and addresses the self-signed certificate names, besides `localhost`,
    /// 127.0.0.1, ::1 and this machine's host name.
    #[serde(default)]
    pub names: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportConfig {
    /// The megabytes of dry runs' files kept (sealed, in the database) to run for real: the
    /// newest first, ten at most. A dry run of a larger file is not kept (upload it again to
    /// run it).
    #[serde(default = "keep_dry_runs_mb")]
    pub keep_dry_runs_mb: u64,
}

fn keep_dry_runs_mb() -> u64 {
    service::KEPT_BYTES >> 20
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            keep_dry_runs_mb: keep_dry_runs_mb(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FirmwareConfig {
    /// The folder of firmware files phones may fetch (docs/firmware.md). Default: beside the
    /// SQLite file (`dialtone.db.firmware`), or `firmware` in the working directory for
    /// PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Licensing {
    /// The seller's licence public key (32 bytes in base64, as `dialtone licence keygen`
    /// prints it). Given, licence units are enforced (docs/licensing.md); not given, nothing
    /// is counted against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Database {
    /// `sqlite:PATH` (created when missing) or `postgres://user:password@host/db`.
    pub url: String,
    /// SQLite: each connection's page cache, in MB.
    pub sqlite_cache_mb: u32,
    /// SQLite: how much of the database file each connection maps into memory, in MB.
    pub sqlite_mmap_mb: u32,
}

impl Database {
    /// What each SQLite connection may hold in memory.
    pub fn sqlite_memory(&self) -> store::SqliteMemory {
        store::SqliteMemory {
            cache_mb: self.sqlite_cache_mb,
            mmap_mb: self.sqlite_mmap_mb,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Admin {
    /// Address of the REST API and the web console over plain HTTP; empty turns it off.
    pub listen: String,
    /// Address of the REST API and the web console over HTTPS ([tls]); empty turns it off.
    #[serde(default)]
    pub https_listen: String,
    /// Connections open at once (past it: 503 and closed).
    #[serde(default = "admin_max_connections")]
    pub max_connections: usize,
    /// Connections open at once from one address.
    #[serde(default = "admin_max_per_source")]
    pub max_connections_per_source: usize,
    /// Seconds a request's head may take, and an idle connection stays open.
    #[serde(default = "admin_header_timeout")]
    pub header_timeout_secs: u64,
    /// Seconds a request body (an upload) may pause, and an answer wait for the client.
    #[serde(default = "admin_io_timeout")]
    pub io_timeout_secs: u64,
}

fn admin_max_connections() -> usize {
    1024
}
fn admin_max_per_source() -> usize {
    128
}
fn admin_header_timeout() -> u64 {
    30
}
fn admin_io_timeout() -> u64 {
    60
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen: "127.0.0.1:8080".into(),
            https_listen: "127.0.0.1:8443".into(),
            max_connections: admin_max_connections(),
            max_connections_per_source: admin_max_per_source(),
            header_timeout_secs: admin_header_timeout(),
            io_timeout_secs: admin_io_timeout(),
        }
    }
}

impl Admin {
    pub fn limits(&self) -> web::listener::Limits {
        limits(
            self.max_connections,
            self.max_connections_per_source,
            self.header_timeout_secs,
            self.io_timeout_secs,
        )
    }
}

fn limits(total: usize, per_source: usize, header: u64, io: u64) -> web::listener::Limits {
    web::listener::Limits {
        max_connections: total.max(1),
        max_per_source: per_source.max(1),
        header_timeout: std::time::Duration::from_secs(header.max(1)),
        body_timeout: std::time::Duration::from_secs(io.max(1)),
        send_timeout: std::time::Duration::from_secs(io.max(1)),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Http {
    /// Address of the phone HTTP listener (Cisco phones look on 6970 first); empty turns it off.
    pub listen: String,
    /// Address of the phone HTTPS listener ([tls]; CUCM's port is 6971); empty (the default)
    /// turns it off.
    #[serde(default)]
    pub https_listen: String,
    /// Megabytes of rendered phone files kept in memory (HTTP and TFTP share them).
    pub cache_mb: u64,
    /// Milliseconds a file not in the cache may wait to be read and rendered; past it new
    /// misses are turned away (HTTP 503 with Retry-After, TFTP "busy") until the queue moves.
    #[serde(default = "http_shed_after_ms")]
    pub shed_after_ms: u64,
    /// Connections open at once (past it: 503 with Retry-After, and closed).
    #[serde(default = "http_max_connections")]
    pub max_connections: usize,
    /// Connections open at once from one address (a site behind NAT is one address).
    #[serde(default = "http_max_per_source")]
    pub max_connections_per_source: usize,
    /// Seconds a request's head may take, and an idle connection stays open.
    #[serde(default = "http_header_timeout")]
    pub header_timeout_secs: u64,
    /// Seconds a request body may pause, and an answer wait for the phone.
    #[serde(default = "http_io_timeout")]
    pub io_timeout_secs: u64,
}

fn http_shed_after_ms() -> u64 {
    provision::DEFAULT_SHED_AFTER.as_millis() as u64
}
fn http_max_connections() -> usize {
    4096
}
fn http_max_per_source() -> usize {
    256
}
fn http_header_timeout() -> u64 {
    10
}
fn http_io_timeout() -> u64 {
    30
}

impl Default for Http {
    fn default() -> Self {
        Http {
            listen: "127.0.0.1:6970".into(),
            https_listen: String::new(),
            cache_mb: provision::DEFAULT_CACHE_BYTES >> 20,
            shed_after_ms: http_shed_after_ms(),
            max_connections: http_max_connections(),
            max_connections_per_source: http_max_per_source(),
            header_timeout_secs: http_header_timeout(),
            io_timeout_secs: http_io_timeout(),
        }
    }
}

impl Http {
    pub fn limits(&self) -> web::listener::Limits {
        limits(
            self.max_connections,
            self.max_connections_per_source,
            self.header_timeout_secs,
            self.io_timeout_secs,
        )
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tftp {
    /// Address of the TFTP listener (phones use port 69); empty (the default) turns it off.
    pub listen: String,
    /// Transfers at once (past it: an error packet, "server busy").
    #[serde(default = "tftp_max_transfers")]
    pub max_transfers: usize,
    /// Transfers at once to one address.
    #[serde(default = "tftp_max_per_source")]
    pub max_transfers_per_source: usize,
    /// Seconds a transfer waits for an acknowledgement that moves it on before it is given up,
    /// whatever timeout the client asks for (a larger `timeout` option is not acknowledged).
    #[serde(default = "tftp_give_up")]
    pub give_up_secs: u64,
    /// Seconds one transfer may last in all.
    #[serde(default = "tftp_max_transfer")]
    pub max_transfer_secs: u64,
}

fn tftp_max_transfers() -> usize {
    1024
}
fn tftp_max_per_source() -> usize {
    32
}
fn tftp_give_up() -> u64 {
    10
}
fn tftp_max_transfer() -> u64 {
    300
}

impl Default for Tftp {
    fn default() -> Self {
        Tftp {
            listen: String::new(),
            max_transfers: tftp_max_transfers(),
            max_transfers_per_source: tftp_max_per_source(),
            give_up_secs: tftp_give_up(),
            max_transfer_secs: tftp_max_transfer(),
        }
    }
}

impl Tftp {
    pub fn server_config(&self) -> tftp::Config {
        tftp::Config {
            max_transfers: self.max_transfers.max(1),
            max_per_source: self.max_transfers_per_source.max(1),
            give_up: std::time::Duration::from_secs(self.give_up_secs.max(1)),
            max_transfer_time: std::time::Duration::from_secs(self.max_transfer_secs.max(1)),
            ..tftp::Config::default()
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sip {
    /// Address NOTIFYs are sent from (`0.0.0.0:5070`); empty (the default) turns resync by SIP
    /// off.
    pub listen: String,
    /// The port phones listen on for SIP when no contact is set on the device.
    pub phone_port: u16,
    /// NOTIFYs started per second at most, so a resync of thousands of phones does not flood
    /// the network or the config server.
    pub rate: u32,
    /// Changes within this many milliseconds of each other give a phone one NOTIFY.
    pub debounce_ms: u64,
    /// RFC 3261 T1 in milliseconds (timer E starts at T1; timer F is 64·T1).
    pub t1_ms: u64,
    /// RFC 3261 T2 in milliseconds (the longest retransmission interval).
    pub t2_ms: u64,
}

impl Default for Sip {
    fn default() -> Self {
        Sip {
            listen: String::new(),
            phone_port: 5060,
            rate: 50,
            debounce_ms: 500,
            t1_ms: 500,
            t2_ms: 4000,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Syslog {
    /// Address of the syslog receiver (UDP, RFC 3164 and 5424; phones send to port 514); empty
    /// (the default) turns it off.
    pub listen: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Log {
    /// A tracing filter: `info`, `debug`, `dialtone=debug,sqlx=warn`, …
    pub level: String,
    /// `text` (the default, for a person) or `json` (one object a line, for a log collector).
    #[serde(default = "text_format")]
    pub format: String,
}

fn text_format() -> String {
    "text".into()
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database", &store::redact_url(&self.database.url))
            .field("admin", &self.admin)
            .field("http", &self.http)
            .field("tftp", &self.tftp)
            .field("sip", &self.sip)
            .field("syslog", &self.syslog)
            .field("templates", &self.templates)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "***"),
            )
            .field("log", &self.log)
            .field("licensing", &self.licensing)
            .field("firmware", &self.firmware)
            .field("import", &self.import)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database: Database {
                url: "sqlite:dialtone.db".into(),
                sqlite_cache_mb: store::SqliteMemory::default().cache_mb,
                sqlite_mmap_mb: store::SqliteMemory::default().mmap_mb,
            },
            admin: Admin::default(),
            http: Http::default(),
            tftp: Tftp::default(),
            sip: Sip::default(),
            syslog: Syslog::default(),
            templates: None,
            admin_password: None,
            admin_password_file: None,
            secret_key: None,
            secret_key_file: None,
            log: Log {
                level: "info".into(),
                format: text_format(),
            },
            licensing: Licensing::default(),
            firmware: FirmwareConfig::default(),
            import: ImportConfig::default(),
            tls: TlsConfig::default(),
            cluster: ClusterConfig::default(),
        }
    }
}

const KNOWN: &[(&str, &[&str])] = &[
    ("database", &["url", "sqlite_cache_mb", "sqlite_mmap_mb"]),
    (
        "admin",
        &[
            "listen",
            "https_listen",
            "max_connections",
            "max_connections_per_source",
            "header_timeout_secs",
            "io_timeout_secs",
        ],
    ),
    (
        "http",
        &[
            "listen",
            "https_listen",
            "cache_mb",
            "shed_after_ms",
            "max_connections",
            "max_connections_per_source",
            "header_timeout_secs",
            "io_timeout_secs",
        ],
    ),
    (
        "tftp",
        &[
            "listen",
            "max_transfers",
            "max_transfers_per_source",
            "give_up_secs",
            "max_transfer_secs",
        ],
    ),
    (
        "sip",
        &[
            "listen",
            "phone_port",
            "rate",
            "debounce_ms",
            "t1_ms",
            "t2_ms",
        ],
    ),
    ("syslog", &["listen"]),
    ("templates", &[]),
    ("log", &["level", "format"]),
    ("admin_password", &[]),
    ("admin_password_file", &[]),
    ("secret_key", &[]),
    ("secret_key_file", &[]),
    ("licensing", &["public_key"]),
    ("firmware", &["folder"]),
    ("import", &["keep_dry_runs_mb"]),
    ("tls", &["certificate_file", "private_key_file", "names"]),
    ("cluster", &["node", "tftp_host"]),
];

impl Config {
    /// Defaults, then `file` (or `dialtone.toml` when it exists), then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<(Config, Vec<String>)> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(f) => {
                if !f.exists() {
                    bail!("configuration file {} does not exist", f.display());
                }
                fig = fig.merge(Toml::file(f));
            }
            None if Path::new("dialtone.toml").exists() => {
                fig = fig.merge(Toml::file("dialtone.toml"))
            }
            None => {}
        }
        fig = fig.merge(Env::prefixed("DIALTONE_").split("__").ignore(&[
            // Variables of the tools around the server, not settings of it.
            "config",
            "test_postgres",
            "require_peers",
            "update_openapi",
            "new_password",
            "user_password",
            "bench_postgres",
        ]));
        let warnings = unknown_keys(&fig);
        let cfg: Config = fig.extract().context("reading the configuration")?;
        Ok((cfg, warnings))
    }

    /// The first administrator's password, from the value or the file.
    pub fn admin_password(&self) -> anyhow::Result<Option<String>> {
        if let Some(p) = &self.admin_password {
            return Ok(Some(p.clone()));
        }
        match &self.admin_password_file {
            Some(f) => {
                let p = std::fs::read_to_string(f)
                    .with_context(|| format!("reading the admin password file {f}"))?;
                Ok(Some(p.trim_end_matches(['\r', '\n']).to_string()))
            }
            None => Ok(None),
        }
    }
}

impl Config {
    /// The firmware folder: as configured, else beside the SQLite file, else `firmware`.
    pub fn firmware_folder(&self) -> std::path::PathBuf {
        if let Some(f) = &self.firmware.folder {
            return f.into();
        }
        match self.database.url.strip_prefix("sqlite:") {
            Some(p) if !p.contains(":memory:") && !p.contains("mode=memory") => format!(
                "{}.firmware",
                p.split('?').next().unwrap_or(p).trim_start_matches("//")
            )
            .into(),
            _ => "firmware".into(),
        }
    }

    /// The file the secret key is kept in (`secret_key_file`, else beside the data); none when
    /// the key is given as a value (`secret_key`).
    pub fn key_file(&self) -> Option<std::path::PathBuf> {
        if self.secret_key.is_some() {
            return None;
        }
        Some(match &self.secret_key_file {
            Some(f) => std::path::PathBuf::from(f),
            None => self.beside_data("key"),
        })
    }

    /// The secret key: the value, or the key file (created with a new key when missing).
    pub fn secret_key(&self) -> anyhow::Result<service::SecretKey> {
        if let Some(k) = &self.secret_key {
            return service::SecretKey::from_base64(k)
                .map_err(|e| anyhow::anyhow!("secret_key: {e}"));
        }
        let Some(path) = self.key_file() else {
            unreachable!("no key file only when the key is given")
        };
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the secret key file {}", path.display()))?;
            return service::SecretKey::from_base64(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
        }
        let key = service::SecretKey::generate();
        write_private(&path, &format!("{}\n", key.to_base64()))
            .with_context(|| format!("creating the secret key file {}", path.display()))?;
        tracing::info!(path = %path.display(), "created a new secret key file: back it up with the database");
        Ok(key)
    }
}

impl Config {
    /// Whether a listener speaks HTTPS.
    pub fn wants_tls(&self) -> bool {
        !self.admin.https_listen.trim().is_empty() || !self.http.https_listen.trim().is_empty()
    }

    /// Where a file beside the data lives: `<database>.<suffix>` for SQLite, `dialtone.<suffix>`
    /// in the working folder otherwise.
    fn beside_data(&self, suffix: &str) -> std::path::PathBuf {
        match self.database.url.strip_prefix("sqlite:") {
            Some(p) => std::path::PathBuf::from(format!(
                "{}.{suffix}",
                p.split('?').next().unwrap_or(p).trim_start_matches("//")
            )),
            None => std::path::PathBuf::from(format!("dialtone.{suffix}")),
        }
    }

    /// The HTTPS listeners' certificate: the configured files, or the self-signed pair beside
    /// the data (made now when missing). Logs its fingerprint.
    pub fn tls(&self) -> anyhow::Result<web::tls::Tls> {
        let (cert, key, made) = match (&self.tls.certificate_file, &self.tls.private_key_file) {
            (Some(c), Some(k)) => (c.into(), k.into(), false),
            (None, None) => {
                let (c, k) = (self.beside_data("tls.crt"), self.beside_data("tls.key"));
                let made = !c.exists() && !k.exists();
                if made {
                    let mut names: Vec<String> =
                        vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
                    if let Some(h) = host_name() {
                        names.push(h);
                    }
                    for n in &self.tls.names {
                        if !names.contains(n) {
                            names.push(n.clone());
                        }
                    }
                    let pem = web::tls::self_signed(&names).map_err(anyhow::Error::msg)?;
                    write_private(&k, &pem.private_key)
                        .with_context(|| format!("creating {}", k.display()))?;
                    write_private(&c, &pem.certificate)
                        .with_context(|| format!("creating {}", c.display()))?;
                }
                (c, k, made)
            }
            _ => anyhow::bail!(
                "[tls] needs both certificate_file and private_key_file, or neither (a self-signed certificate)"
            ),
        };
        let tls = web::tls::from_files(&cert, &key).map_err(anyhow::Error::msg)?;
        if made {
            tracing::info!(certificate = %cert.display(), fingerprint = %tls.fingerprint, "made a self-signed HTTPS certificate: check this SHA-256 fingerprint when a browser or a client first meets it, or give your own ([tls] certificate_file, private_key_file)");
        } else {
            tracing::info!(certificate = %cert.display(), fingerprint = %tls.fingerprint, "HTTPS certificate");
        }
        Ok(tls)
    }
}

impl Config {
    /// This node's name in the cluster: `[cluster] node`, else the host name.
    pub fn node_name(&self) -> String {
        let n = self.cluster.node.trim();
        if !n.is_empty() {
            return n.to_string();
        }
        host_name().unwrap_or_else(|| "dialtone".into())
    }
}

/// This machine's host name, if it has a usable one.
fn host_name() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty() && h != "localhost").then(|| h.to_string())
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

fn unknown_keys(fig: &Figment) -> Vec<String> {
    let Ok(value) = fig.extract::<serde_json::Value>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(map) = value.as_object() {
        for (k, v) in map {
            match KNOWN.iter().find(|(s, _)| s == k) {
                None => out.push(format!("unknown configuration key `{k}` is ignored")),
                Some((_, fields)) => {
                    if let Some(inner) = v.as_object() {
                        for f in inner.keys() {
                            if !fields.contains(&f.as_str()) {
                                out.push(format!("unknown configuration key `{k}.{f}` is ignored"));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's closure type, not ours
    fn layers_and_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "d.toml",
                "[database]\nurl = \"sqlite:x.db\"\n[admin]\nlisten = \"127.0.0.1:9\"\nlisen = 1\n",
            )?;
            jail.set_env("DIALTONE_ADMIN__LISTEN", "127.0.0.1:7");
            jail.set_env("DIALTONE_ADMIN_PASSWORD", "from-env-123");
            let (c, warnings) = Config::load(Some(Path::new("d.toml"))).unwrap();
            assert_eq!(c.database.url, "sqlite:x.db");
            assert_eq!(
                c.admin.listen, "127.0.0.1:7",
                "the environment beats the file"
            );
            assert_eq!(c.admin_password().unwrap().as_deref(), Some("from-env-123"));
            assert!(!format!("{c:?}").contains("from-env-123"));
            assert_eq!(
                warnings,
                vec!["unknown configuration key `admin.lisen` is ignored"]
            );
            Ok(())
        });
    }
}
