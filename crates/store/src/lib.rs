//! Dialtone's store: one SQL code path for SQLite and PostgreSQL (chosen from the URL at run
//! time through sqlx's `Any` driver), embedded forward-only migrations, transactions, and the
//! audit log. It turns rows into the model's records and back; it knows nothing of HTTP,
//! templates or vendor formats.
#![forbid(unsafe_code)]

mod migrate;
pub mod sql;

pub mod admins;
pub mod audit;
pub mod devices;
pub mod lines;
pub mod parameters;
pub mod services;
pub mod status;
pub mod systems;
pub mod testing;
pub mod users;
pub mod voicemail;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use migrate::{migrations, Migration};
pub use sql::Find;
pub use sqlx::AnyConnection as Conn;

/// The database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, Error> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::Config(format!(
                "database URL `{}` is neither sqlite:PATH nor postgres://…",
                redact_url(url)
            )))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; the text names the constraint's columns.
    #[error("already exists ({0})")]
    Unique(String),
    /// A foreign key refused the write or the delete: something still refers to the record.
    #[error("still referred to ({0})")]
    InUse(String),
    /// The record changed since it was read.
    #[error("stale version")]
    Stale,
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Db(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Error::NotFound,
            sqlx::Error::Database(d) => match d.kind() {
                sqlx::error::ErrorKind::UniqueViolation => Error::Unique(d.message().to_string()),
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    Error::InUse(d.message().to_string())
                }
                _ => Error::Db(d.message().to_string()),
            },
            other => Error::Db(other.to_string()),
        }
    }
}

/// A URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Set on every SQLite connection. Finds read index and table pages at random: keeping them
/// memory-mapped and cached instead of paying a read() per page is what makes prefix finds
/// fast (BENCHMARKS.md).
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA mmap_size = 268435456",
    "PRAGMA cache_size = -65536",
    "PRAGMA temp_store = MEMORY",
];

/// A connection to the database, with the backend it speaks.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time; writers of this process queue here instead of failing
    /// with SQLITE_BUSY when a read-then-write transaction loses the race.
    write_lock: Option<Arc<Mutex<()>>>,
    generation: Arc<Generation>,
}

/// The generation as this process knows it: what its own commits set at once, and what the
/// database says, asked at most every `GENERATION_RECHECK` (other processes and nodes).
#[derive(Debug, Default)]
struct Generation {
    known: std::sync::atomic::AtomicI64,
    /// Milliseconds since `epoch` when the database was last asked; 0 before the first time.
    checked_ms: std::sync::atomic::AtomicU64,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

/// How long a generation read from the database is trusted before it is asked again: the most a
/// change committed by another process or node can take to reach this one's phone files.
pub const GENERATION_RECHECK: Duration = Duration::from_millis(250);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// A write transaction. Commit it, or it rolls back when dropped.
pub struct WriteTx {
    pub tx: Transaction<'static, sqlx::Any>,
    _guard: Option<OwnedMutexGuard<()>>,
    /// Bump the generation on commit (everything but the migrations themselves).
    bump: bool,
    generation: Arc<Generation>,
}

impl WriteTx {
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
    /// Commits, bumping the generation in the same transaction: whatever was cached under the
    /// previous generation is stale from the moment this commit is visible.
    pub async fn commit(mut self) -> Result<()> {
        let n: Option<i64> = if self.bump {
            Some(
                sqlx::query_scalar("UPDATE generation SET n = n + 1 WHERE id = 1 RETURNING n")
                    .fetch_one(&mut *self.tx)
                    .await?,
            )
        } else {
            None
        };
        self.tx.commit().await?;
        // This process's own commit is seen by its next request at once.
        if let Some(n) = n {
            self.generation
                .known
                .fetch_max(n, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(())
    }
}

impl Store {
    /// Connects to `url` (`sqlite:PATH` — created when missing — or `postgres://…`) and brings
    /// the schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
            }
            _ => url.to_string(),
        };
        let opts = AnyConnectOptions::from_str(&url)
            .map_err(|e| Error::Config(format!("database URL `{}`: {e}", redact_url(&url))))?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .map_err(|e| {
                Error::Config(format!("cannot open database `{}`: {e}", redact_url(&url)))
            })?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Store {
            pool,
            backend,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            generation: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies the migrations not applied yet; returns how many ran.
    pub async fn migrate(&self) -> Result<usize> {
        migrate::run(self).await
    }

    /// Starts a write transaction.
    pub async fn write(&self) -> Result<WriteTx> {
        self.begin(true).await
    }

    /// A write transaction that does not bump the generation: for records no phone file shows
    /// (device status), so that recording them does not throw away rendered files.
    pub async fn write_unversioned(&self) -> Result<WriteTx> {
        self.begin(false).await
    }

    /// The generation: a number every committed write increases. A commit of this process is
    /// seen at once; one of another process or node within `GENERATION_RECHECK`.
    pub async fn generation(&self) -> Result<i64> {
        use std::sync::atomic::Ordering;
        let g = &self.generation;
        let epoch = *g.epoch.get_or_init(std::time::Instant::now);
        let now_ms = epoch.elapsed().as_millis() as u64 + 1;
        let checked = g.checked_ms.load(Ordering::Acquire);
        if checked != 0 && now_ms.saturating_sub(checked) < GENERATION_RECHECK.as_millis() as u64 {
            return Ok(g.known.load(Ordering::Acquire));
        }
        let n: i64 = sqlx::query_scalar("SELECT n FROM generation WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        g.known.fetch_max(n, Ordering::AcqRel);
        g.checked_ms.store(now_ms, Ordering::Release);
        Ok(g.known.load(Ordering::Acquire))
    }

    pub(crate) async fn begin(&self, bump: bool) -> Result<WriteTx> {
        let guard = match &self.write_lock {
            Some(l) => Some(l.clone().lock_owned().await),
            None => None,
        };
        // On SQLite, take the write lock at BEGIN: a transaction that reads and then writes would
        // otherwise fail at once with SQLITE_BUSY when another process (the CLI beside the
        // server) committed in between, instead of waiting its turn.
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx {
            tx,
            _guard: guard,
            bump,
            generation: self.generation.clone(),
        })
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// The result of an `UPDATE … WHERE id = $ AND version = $`: no row means the version was stale.
pub(crate) fn versioned(rows: u64) -> Result<()> {
    if rows == 0 {
        return Err(Error::Stale);
    }
    Ok(())
}

/// The text a query's first row holds in its first column (for tests and tools that look at
/// what is stored).
pub async fn query_text(conn: &mut Conn, sql: &str) -> Result<String> {
    Ok(sqlx::query_scalar(sql).fetch_one(conn).await?)
}

/// Runs one statement that returns nothing (maintenance: `ANALYZE`, `VACUUM`).
pub async fn exec(conn: &mut Conn, sql: &str) -> Result<()> {
    sqlx::query(sql).execute(conn).await?;
    Ok(())
}

/// The current time as the store writes it: RFC 3339, UTC, milliseconds (sorts as text).
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f).expect("formatting a UTC time cannot fail")
}

pub(crate) fn b(v: i64) -> bool {
    v != 0
}

pub(crate) fn json_list<T: serde::de::DeserializeOwned>(s: &str) -> Vec<T> {
    serde_json::from_str(s).unwrap_or_default()
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serialising plain data cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://dt:secret@db:5432/dt"),
            "postgres://dt:***@db:5432/dt"
        );
        assert_eq!(redact_url("sqlite:dialtone.db"), "sqlite:dialtone.db");
        assert_eq!(redact_url("postgres://dt@db/dt"), "postgres://dt@db/dt");
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite:x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgres://x/y").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://x").is_err());
    }
}
