//! Dialtone's store: one SQL code path for SQLite and PostgreSQL (chosen from the URL at run
//! time through sqlx's `Any` driver), embedded forward-only migrations, transactions, and the
//! audit log. It turns rows into the model's records and back; it knows nothing of HTTP,
//! templates or vendor formats.
#![forbid(unsafe_code)]

mod migrate;
mod page;
pub mod sql;

pub mod admins;
pub mod audit;
pub mod changes;
pub mod cluster;
pub mod configs;
pub mod devices;
pub mod directory;
pub mod extension_mobility;
pub mod firmware;
pub mod licensing;
pub mod lines;
pub mod parameters;
pub mod rekey;
pub mod secrets;
pub mod services;
pub mod soft_client;
pub mod status;
pub mod systems;
pub mod templates;
pub mod testing;
pub mod universal_templates;
pub mod user_profiles;
pub mod user_sessions;
pub mod users;
pub mod voicemail;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use changes::Change;
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
    /// The database could not be reached, or dropped the connection (PostgreSQL restarting):
    /// nothing of the statement was done, and trying again later may work.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
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
                // Class 08 (connection exception) and 57P (the server shutting down or
                // starting).
                _ if d
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
                {
                    Error::Unavailable(d.message().to_string())
                }
                _ => Error::Db(d.message().to_string()),
            },
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => Error::Unavailable(e.to_string()),
            other => Error::Db(other.to_string()),
        }
    }
}

/// The file of a `sqlite:` URL (`None` for an in-memory database or another backend).
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest
        .split('?')
        .next()
        .unwrap_or(rest)
        .trim_start_matches("//");
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    Some(path.into())
}

/// The SQLite file, its write-ahead log and its shared memory readable by their owner only
/// (the file holds the SIP passwords, sealed, and the password hashes): a new file is made so,
/// and an existing one readable by others is made so too. SQLite gives the log and the shared
/// memory the database file's mode when it makes them.
fn keep_private(path: &std::path::Path, create: bool) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true).mode(0o600);
        match if create {
            o.open(path).map(drop)
        } else {
            Ok(())
        } {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot create the database file {}: {e}",
                    path.display()
                )))
            }
        }
        let mut files = vec![path.to_path_buf()];
        for ext in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(ext);
            files.push(p.into());
        }
        for f in files {
            let Ok(meta) = std::fs::metadata(&f) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                match std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode & 0o700)) {
                    Ok(()) => tracing::info!(
                        file = %f.display(),
                        "the database file was readable by others ({mode:o}): now by its owner only"
                    ),
                    Err(e) => tracing::warn!(
                        file = %f.display(),
                        error = %e,
                        "the database file is readable by others ({mode:o}) and could not be made private"
                    ),
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, create);
    Ok(())
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

/// Set on every SQLite connection, with the memory of [`SqliteMemory`].
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA temp_store = MEMORY",
];

/// The memory each SQLite connection may hold (configuration `database.sqlite_cache_mb` and
/// `database.sqlite_mmap_mb`, docs/configuration.md "The database"). Finds read index and table
/// pages at random, so pages kept in memory instead of read() again make them fast; but a
/// memory-mapped file counts in the server's resident memory once per connection mapping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteMemory {
    /// Each connection's page cache, in MB.
    pub cache_mb: u32,
    /// How much of the database file each connection maps into memory, in MB (0: none).
    pub mmap_mb: u32,
}

impl Default for SqliteMemory {
    fn default() -> Self {
        // No memory map by default: a mapped file counts once per connection in the server's
        // resident memory (BENCHMARKS.md, "Boot storm"). With the file's pages in the kernel's
        // page cache, a 16 MB cache per connection reads phone files 11 to 23 % slower than a
        // 256 MB map (BENCHMARKS.md, "Phone files from the store").
        SqliteMemory {
            cache_mb: 16,
            mmap_mb: 0,
        }
    }
}

/// A pooled connection idle at least this long is pinged before it is handed out; one used more
/// recently is trusted (HikariCP's `aliveBypassWindowMs` does the same, with 500 ms).
const PING_WHEN_IDLE: Duration = Duration::from_millis(500);

/// How connections to the database are made: at most `max`, each SQLite one with
/// [`SQLITE_PRAGMAS`] and `memory`.
///
/// A connection idle for [`PING_WHEN_IDLE`] or more is pinged before use, and replaced when the
/// ping fails (the database restarted, a proxy dropped it); not every one, as sqlx does by
/// default: on PostgreSQL a ping is one more round trip to the server, and an API request took
/// two connections (its token, then its work), so that was two round trips of five. A connection
/// that broke within the window fails its statement once, and is then dropped by the pool.
fn pool_options(backend: Backend, max: u32, memory: SqliteMemory) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    for pragma in SQLITE_PRAGMAS {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    let mb = 1024 * 1024u64;
                    for pragma in [
                        format!("PRAGMA mmap_size = {}", u64::from(memory.mmap_mb) * mb),
                        format!("PRAGMA cache_size = -{}", u64::from(memory.cache_mb) * 1024),
                    ] {
                        sqlx::query(&pragma).execute(&mut *conn).await?;
                    }
                }
                Ok(())
            })
        })
}

/// A connection to the database, with the backend it speaks.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database's URL (its password too: never shown).
    url: Arc<str>,
    /// SQLite has one writer at a time; writers of this process queue here instead of failing
    /// with SQLITE_BUSY when a read-then-write transaction loses the race.
    write_lock: Option<Arc<Mutex<()>>>,
    generation: Arc<Generation>,
    /// Set on a batched store: every write shares one transaction until `commit_batch`.
    batch: Option<Arc<Mutex<BatchState>>>,
    /// What each SQLite connection may hold in memory (also for [`Store::detached`]).
    memory: SqliteMemory,
    /// A batched store's writes take no savepoint ([`Store::set_optimistic`]).
    optimistic: Arc<std::sync::atomic::AtomicBool>,
    /// A batched store's optimistic writes on PostgreSQL may hold their new rows back
    /// ([`Store::set_holding`]).
    holding: Arc<std::sync::atomic::AtomicBool>,
}

/// The generation as this process knows it: what its own commits set at once, what other
/// processes' commits announce (on PostgreSQL, [`Store::follow_commits`]), and what the
/// database says, asked at most every `GENERATION_RECHECK` (every `GENERATION_FALLBACK` while
/// announcements are heard).
#[derive(Debug, Default)]
struct Generation {
    known: std::sync::atomic::AtomicI64,
    /// Announcements of commits are being heard.
    listening: std::sync::atomic::AtomicBool,
    /// Milliseconds since `epoch` when the database was last asked; 0 before the first time.
    checked_ms: std::sync::atomic::AtomicU64,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

/// How long a generation read from the database is trusted before it is asked again: the most a
/// change committed by another process or node can take to reach this one's phone files.
pub const GENERATION_RECHECK: Duration = Duration::from_millis(250);

/// While commits are announced to this process ([`Store::follow_commits`]), the generation is
/// still asked this often: the fallback should an announcement be missed.
pub const GENERATION_FALLBACK: Duration = Duration::from_secs(1);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

/// A write transaction. Commit it, or it rolls back when dropped.
pub struct WriteTx {
    inner: Option<Inner>,
    /// In a batch: whether this write is in a savepoint of its own.
    savepoint: bool,
    /// Whether this write may hold its new rows back ([`WriteTx::hold_row`]).
    hold: bool,
    /// The entry [`WriteTx::audit`] was given, written with the commit.
    audit: Option<audit::Held>,
    /// Bump the generation on commit (everything but the migrations themselves).
    bump: bool,
    /// What the write changed in phone files, journalled with the commit.
    changes: Vec<Change>,
    generation: Arc<Generation>,
}

enum Inner {
    Own {
        tx: Transaction<'static, sqlx::Any>,
        _guard: Option<OwnedMutexGuard<()>>,
    },
    /// A savepoint in a batch's transaction ([`Store::batched`]).
    Batched(OwnedMutexGuard<BatchState>),
}

/// The one transaction the writes of a batched store share, each in a savepoint of its own
/// (or, run optimistically, with none: see [`Store::set_optimistic`]).
#[derive(Default)]
pub struct BatchState {
    tx: Option<Transaction<'static, sqlx::Any>>,
    _guard: Option<OwnedMutexGuard<()>>,
    /// The last savepoint was dropped unreleased: roll back to it before anything else runs.
    undo: bool,
    /// An optimistic write failed: what it did half cannot be undone alone, so nothing more
    /// runs in this batch until [`Store::rollback_batch`].
    poisoned: bool,
    /// A released savepoint wrote something phone files may show.
    bump: bool,
    /// The audit entries of released savepoints, written at the batch's commit.
    audit: Vec<audit::Held>,
    /// The changes of released savepoints, journalled at the batch's commit.
    changes: Vec<Change>,
    /// An open [`Store::begin_group`]: how many audit entries and changes were held before it.
    group: Option<(usize, usize)>,
    /// New rows held back by optimistic writes on PostgreSQL ([`WriteTx::hold_row`]): written
    /// several to a statement before anything else runs on the batch's connection.
    held_rows: Vec<HeldRow>,
    /// Ids taken ahead from each table's sequence for held rows.
    spare_ids: std::collections::HashMap<&'static str, Vec<i64>>,
    /// The multi-row INSERTs of held rows by table, columns and row count: a full chunk's
    /// statement has some 15,000 placeholders, and writing them each time was a tenth of the
    /// import's own CPU.
    held_sql: std::collections::HashMap<(&'static str, &'static str, usize), String>,
}

/// A value of a held row.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
}

/// A new row of `table` whose INSERT waits to go with others ([`WriteTx::hold_row`]).
#[derive(Debug)]
struct HeldRow {
    table: &'static str,
    cols: &'static str,
    args: Vec<Arg>,
}

/// Binds one value.
pub fn bind_arg<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    a: Arg,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match a {
        Arg::Int(v) => q.bind(v),
        Arg::OptInt(v) => q.bind(v),
        Arg::Text(v) => q.bind(v),
        Arg::OptText(v) => q.bind(v),
    }
}

/// Most values one multi-row INSERT binds (PostgreSQL's limit is 65,535).
const HELD_ARGS: usize = 30_000;

impl BatchState {
    fn conn(&mut self) -> &mut AnyConnection {
        self.tx
            .as_mut()
            .expect("a batch's transaction is open while its state is lent")
    }
    /// Rolls back what a failed write left in the batch's transaction.
    async fn settle(&mut self) -> Result<()> {
        if self.undo && self.tx.is_some() {
            sqlx::query("ROLLBACK TO SAVEPOINT dialtone_row")
                .execute(self.conn())
                .await?;
            sqlx::query("RELEASE SAVEPOINT dialtone_row")
                .execute(self.conn())
                .await?;
        }
        self.undo = false;
        Ok(())
    }

    /// Writes the held rows, consecutive rows of one table and columns in one INSERT. A
    /// failure (a duplicate the optimistic write did not look for) poisons the batch: what
    /// failed is found when it is replayed with savepoints, row by row.
    async fn write_held(&mut self) -> Result<()> {
        if self.held_rows.is_empty() || self.tx.is_none() {
            return Ok(());
        }
        // A table's rows together, tables in the order first held: a row refers only to rows
        // held before it (a user's lines after the user), so each table's parents go first.
        let mut rows = std::mem::take(&mut self.held_rows);
        let mut order: Vec<(&'static str, &'static str)> = Vec::new();
        for r in &rows {
            if !order.contains(&(r.table, r.cols)) {
                order.push((r.table, r.cols));
            }
        }
        rows.sort_by_key(|r| {
            order
                .iter()
                .position(|k| *k == (r.table, r.cols))
                .unwrap_or(0)
        });
        let mut i = 0;
        while i < rows.len() {
            let (table, cols, n) = (rows[i].table, rows[i].cols, rows[i].args.len());
            let per = (HELD_ARGS / n.max(1)).max(1);
            let mut j = i;
            while j < rows.len() && j - i < per && rows[j].table == table && rows[j].cols == cols {
                j += 1;
            }
            // A chunk that ends on time has a row count of its own: a few statements are
            // kept, not one for each count a long import meets (each some 100 KB).
            if self.held_sql.len() >= 8 && !self.held_sql.contains_key(&(table, cols, j - i)) {
                self.held_sql.clear();
            }
            let sql = self
                .held_sql
                .entry((table, cols, j - i))
                .or_insert_with(|| sql::insert_rows_sql(table, cols, n, j - i))
                .clone();
            let mut q = sqlx::query(sql.as_str());
            for r in &rows[i..j] {
                for a in &r.args {
                    q = bind_arg(q, a.clone());
                }
            }
            if let Err(e) = q.execute(self.conn()).await {
                self.poisoned = true;
                return Err(e.into());
            }
            i = j;
        }
        Ok(())
    }
}

impl WriteTx {
    /// Records `e` in the audit log with this transaction's commit (in a batch, with the
    /// batch's commit, many to a statement).
    pub fn audit(&mut self, e: &audit::NewEntry<'_>) {
        self.audit = Some(audit::Held::new(e));
    }

    /// Notes what this write changes in phone files; journalled with the commit under the
    /// generation it bumps ([`changes`]).
    pub fn changed(&mut self, c: Change) {
        self.changes.push(c);
    }

    /// Whether this write may hold its new rows back to go several to a statement
    /// ([`WriteTx::hold_row`]): a write of an optimistic batch on PostgreSQL, where each
    /// statement is a round trip (on SQLite a statement costs none, and a savepoint's write
    /// must fail where it is).
    pub fn holds_rows(&self) -> bool {
        self.hold
    }

    /// An id for a new row of `table`, taken ahead from its sequence (a thousand at a time)
    /// for a row [`WriteTx::hold_row`] holds back.
    pub async fn take_id(&mut self, table: &'static str) -> Result<i64> {
        let Some(Inner::Batched(state)) = self.inner.as_mut() else {
            return Err(Error::Db("ids are taken ahead only in a batch".into()));
        };
        if state.spare_ids.get(table).is_none_or(Vec::is_empty) {
            let mut ids: Vec<i64> = sqlx::query_scalar(
                "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, 1000)",
            )
            .bind(table)
            .fetch_all(state.conn())
            .await?;
            ids.reverse();
            state.spare_ids.insert(table, ids);
        }
        Ok(state
            .spare_ids
            .get_mut(table)
            .and_then(Vec::pop)
            .expect("ids were just taken"))
    }

    /// Holds back the INSERT of a new row (`cols` and their values, the id among them): it is
    /// written with the rows held after it, before the batch reads outside a write
    /// ([`Store::read`]), commits, or a group begins. The writes after it do not see it: a row
    /// that fails meanwhile replays the chunk without holding ([`Store::poison_if_held`]).
    /// Only when [`WriteTx::holds_rows`].
    pub fn hold_row(&mut self, table: &'static str, cols: &'static str, args: Vec<Arg>) {
        if let Some(Inner::Batched(state)) = self.inner.as_mut() {
            state.held_rows.push(HeldRow { table, cols, args });
        }
    }

    /// Holds back a new record of `table` ([`WriteTx::hold_row`]) under an id taken ahead
    /// ([`WriteTx::take_id`]): `cols` name the id, the record's own columns (`args`), its
    /// system and its two times, in that order. Returns the id.
    pub async fn hold_record(
        &mut self,
        table: &'static str,
        cols: &'static str,
        args: Vec<Arg>,
        system_id: i64,
    ) -> Result<i64> {
        let id = self.take_id(table).await?;
        let t = now();
        let mut row = Vec::with_capacity(args.len() + 4);
        row.push(Arg::Int(id));
        row.extend(args);
        row.extend([Arg::Int(system_id), Arg::Text(t.clone()), Arg::Text(t)]);
        self.hold_row(table, cols, row);
        Ok(id)
    }

    /// Whether [`WriteTx::changed`] was called.
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    pub fn conn(&mut self) -> &mut AnyConnection {
        match self.inner.as_mut().expect("an open transaction") {
            Inner::Own { tx, .. } => tx,
            Inner::Batched(state) => state.conn(),
        }
    }
    /// Commits, bumping the generation in the same transaction: whatever was cached under the
    /// previous generation is stale from the moment this commit is visible. In a batch, releases
    /// the savepoint: the batch's commit makes it visible.
    pub async fn commit(mut self) -> Result<()> {
        match self.inner.take().expect("an open transaction") {
            Inner::Own { mut tx, _guard } => {
                if let Some(h) = self.audit.take() {
                    audit::append_held(&mut tx, &[h]).await?;
                }
                let n = if self.bump {
                    let n = bump_generation(&mut tx).await?;
                    changes::append(&mut tx, n, &mut self.changes).await?;
                    Some(n)
                } else {
                    None
                };
                tx.commit().await?;
                // This process's own commit is seen by its next request at once.
                if let Some(n) = n {
                    self.generation
                        .known
                        .fetch_max(n, std::sync::atomic::Ordering::AcqRel);
                }
            }
            Inner::Batched(mut state) => {
                if self.savepoint {
                    let released = sqlx::query("RELEASE SAVEPOINT dialtone_row")
                        .execute(state.conn())
                        .await;
                    if let Err(e) = released {
                        state.undo = true;
                        return Err(e.into());
                    }
                }
                state.bump |= self.bump;
                state.audit.extend(self.audit.take());
                if self.bump {
                    state.changes.append(&mut self.changes);
                }
            }
        }
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // An own transaction rolls back as sqlx drops it; a savepoint is rolled back by the
        // batch's next statement (no await here).
        if let Some(Inner::Batched(state)) = self.inner.as_mut() {
            if self.savepoint {
                state.undo = true;
            } else {
                state.poisoned = true;
            }
        }
    }
}

/// The channel commits are announced on, on PostgreSQL (the new generation as the payload).
pub const COMMIT_CHANNEL: &str = "dialtone_generation";

async fn bump_generation(conn: &mut AnyConnection) -> Result<i64> {
    // On PostgreSQL the commit is announced in the same statement: other nodes listening
    // ([`Store::follow_commits`]) hear of it once it commits, not a poll later.
    let sql = if conn.backend_name() == "PostgreSQL" {
        "WITH b AS (UPDATE generation SET n = n + 1 WHERE id = 1 RETURNING n) \
         SELECT b.n FROM b, LATERAL (SELECT pg_notify('dialtone_generation', CAST(b.n AS TEXT))) AS told"
    } else {
        "UPDATE generation SET n = n + 1 WHERE id = 1 RETURNING n"
    };
    Ok(sqlx::query_scalar(sql).fetch_one(conn).await?)
}

/// A connection for reads: from the pool, or a batch's transaction (which sees the batch's own
/// uncommitted writes).
pub enum ReadConn {
    Pool(sqlx::pool::PoolConnection<sqlx::Any>),
    Batched(OwnedMutexGuard<BatchState>),
}

impl std::ops::Deref for ReadConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            ReadConn::Pool(c) => c,
            ReadConn::Batched(s) => s.tx.as_ref().expect("an open batch"),
        }
    }
}

impl std::ops::DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            ReadConn::Pool(c) => c,
            ReadConn::Batched(s) => s.conn(),
        }
    }
}

/// A read-only transaction ([`Store::snapshot`]).
pub enum Snapshot {
    Own(Transaction<'static, sqlx::Any>),
    Batched(OwnedMutexGuard<BatchState>),
}

impl Snapshot {
    pub fn conn(&mut self) -> &mut AnyConnection {
        match self {
            Snapshot::Own(tx) => tx,
            Snapshot::Batched(s) => s.conn(),
        }
    }

    /// Ends the snapshot (nothing was written; this only gives the connection back sooner
    /// than dropping it would).
    pub async fn finish(self) -> Result<()> {
        if let Snapshot::Own(tx) = self {
            tx.commit().await?;
        }
        Ok(())
    }

    /// The generation this snapshot sees.
    pub async fn generation(&mut self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT n FROM generation WHERE id = 1")
            .fetch_one(self.conn())
            .await?)
    }
}

impl Store {
    /// Connects to `url` (`sqlite:PATH` — created when missing — or `postgres://…`) and brings
    /// the schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        Self::open_with(url, SqliteMemory::default()).await
    }

    /// [`Store::open`] with the memory each SQLite connection may hold.
    pub async fn open_with(url: &str, memory: SqliteMemory) -> Result<Store> {
        let store = Self::connect_with(url, memory).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(url, SqliteMemory::default()).await
    }

    /// [`Store::connect`] with the memory each SQLite connection may hold.
    pub async fn connect_with(url: &str, memory: SqliteMemory) -> Result<Store> {
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
        if let Some(file) = sqlite_file(&url) {
            keep_private(&file, url.contains("mode=rwc"))?;
        }
        let pool = pool_options(
            backend,
            match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 10,
            },
            memory,
        )
        .connect_with(opts)
        .await
        .map_err(|e| Error::Config(format!("cannot open database `{}`: {e}", redact_url(&url))))?;
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        Ok(Store {
            pool,
            backend,
            url: url.into(),
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(()))),
            generation: Arc::default(),
            batch: None,
            optimistic: Arc::default(),
            holding: Arc::default(),
            memory,
        })
    }

    /// The same database through a pool of its own, of one connection, opened here: for a long
    /// job on a thread of its own (an import), so that the connection (on SQLite, sqlx's worker
    /// thread) starts from that thread and keeps to its CPU. It shares this store's write lock
    /// and generation: its commits are this process's own.
    pub async fn detached(&self) -> Result<Store> {
        let opts = (*self.pool.connect_options()).clone();
        let pool = pool_options(self.backend, 1, self.memory)
            .connect_with(opts)
            .await?;
        Ok(Store {
            pool,
            batch: None,
            optimistic: Arc::default(),
            ..self.clone()
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Connections open in the pool, and idle among them.
    pub fn pool_stats(&self) -> (u64, u64) {
        (u64::from(self.pool.size()), self.pool.num_idle() as u64)
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
        let trusted = if g.listening.load(Ordering::Acquire) {
            GENERATION_FALLBACK
        } else {
            GENERATION_RECHECK
        };
        if checked != 0 && now_ms.saturating_sub(checked) < trusted.as_millis() as u64 {
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
        if let Some(batch) = &self.batch {
            // One task runs a batch, one use case at a time: a second write while one is open
            // would wait for itself.
            let mut state = batch
                .clone()
                .try_lock_owned()
                .map_err(|_| Error::Db("a write inside a write of the same batch".into()))?;
            if state.poisoned {
                return Err(Error::Db(
                    "a write of this batch failed: roll the batch back before writing again".into(),
                ));
            }
            if state.tx.is_none() {
                let (tx, guard) = self.begin_own().await?;
                state.tx = Some(tx);
                state._guard = guard;
            }
            state.settle().await?;
            let savepoint = !self.optimistic();
            if savepoint {
                sqlx::query("SAVEPOINT dialtone_row")
                    .execute(state.conn())
                    .await?;
            }
            return Ok(WriteTx {
                inner: Some(Inner::Batched(state)),
                savepoint,
                hold: !savepoint
                    && self.backend == Backend::Postgres
                    && self.holding.load(std::sync::atomic::Ordering::Acquire),
                audit: None,
                bump,
                changes: Vec::new(),
                generation: self.generation.clone(),
            });
        }
        let (tx, guard) = self.begin_own().await?;
        Ok(WriteTx {
            inner: Some(Inner::Own { tx, _guard: guard }),
            savepoint: false,
            hold: false,
            audit: None,
            bump,
            changes: Vec::new(),
            generation: self.generation.clone(),
        })
    }

    async fn begin_own(
        &self,
    ) -> Result<(Transaction<'static, sqlx::Any>, Option<OwnedMutexGuard<()>>)> {
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
        Ok((tx, guard))
    }

    /// The same store, except that its writes share one transaction, each in a savepoint of its
    /// own: a write that fails rolls back alone, and nothing is visible to others (nor durable)
    /// before [`Store::commit_batch`]. For imports: committing once per few hundred rows instead
    /// of once per row. The batch holds the write lock from its first write to its commit, so
    /// keep batches short.
    pub fn batched(&self) -> Store {
        Store {
            batch: Some(Arc::default()),
            optimistic: Arc::default(),
            holding: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            ..self.clone()
        }
    }

    /// Runs the batch's next writes without a savepoint each (`true`) or with one (`false`, the
    /// default). Without, a row costs two statements less, but a write that fails poisons the
    /// whole batch: nothing more runs until [`Store::rollback_batch`], and the caller replays
    /// the batch with savepoints to find which write failed and keep the others. For imports of
    /// files that are mostly right.
    pub fn set_optimistic(&self, optimistic: bool) {
        self.optimistic.store(
            optimistic && self.batch.is_some(),
            std::sync::atomic::Ordering::Release,
        );
    }

    /// Lets the batch's optimistic writes hold their new rows back (the default) or not: a
    /// batch whose writes count what is stored (licence units) must see every row at once.
    pub fn set_holding(&self, holding: bool) {
        self.holding
            .store(holding, std::sync::atomic::Ordering::Release);
    }

    /// Whether this store's writes go without savepoints ([`Store::set_optimistic`]): a
    /// failure is then replayed with them, and checks that only word better what a unique key
    /// refuses anyway may be left to the replay.
    pub fn optimistic(&self) -> bool {
        self.optimistic.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether an optimistic write of this batch failed ([`Store::set_optimistic`]). Asked
    /// between writes (during one, the batch is lent to it and this answers false).
    pub fn poisoned(&self) -> bool {
        self.batch
            .as_ref()
            .is_some_and(|b| b.try_lock().map(|s| s.poisoned).unwrap_or(false))
    }

    /// Commits what a batched store wrote since its last commit (nothing when it is not
    /// batched).
    pub async fn commit_batch(&self) -> Result<()> {
        let Some(batch) = &self.batch else {
            return Ok(());
        };
        let mut state = batch.lock().await;
        if state.poisoned {
            return Err(Error::Db(
                "a write of this batch failed: roll the batch back instead of committing it".into(),
            ));
        }
        state.settle().await?;
        state.write_held().await?;
        let Some(mut tx) = state.tx.take() else {
            return Ok(());
        };
        state.group = None;
        let bump = std::mem::take(&mut state.bump);
        let held = std::mem::take(&mut state.audit);
        let mut changed = std::mem::take(&mut state.changes);
        audit::append_held(&mut tx, &held).await?;
        let n = if bump {
            let n = bump_generation(&mut tx).await?;
            changes::append(&mut tx, n, &mut changed).await?;
            Some(n)
        } else {
            None
        };
        tx.commit().await?;
        state._guard = None;
        if let Some(n) = n {
            self.generation
                .known
                .fetch_max(n, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(())
    }

    /// Writes the rows a batch's optimistic writes held back ([`WriteTx::hold_row`]); a
    /// failure among them poisons the batch ([`Store::poisoned`]).
    pub async fn write_held(&self) -> Result<()> {
        let Some(batch) = &self.batch else {
            return Ok(());
        };
        let mut state = batch.lock().await;
        if state.poisoned {
            return Ok(());
        }
        state.write_held().await
    }

    /// Poisons the batch when it holds rows back ([`WriteTx::hold_row`]), and says whether it
    /// did: a row that failed while rows were held may have failed for not seeing them (a
    /// phone whose primary phone an earlier row of the chunk added), so the chunk is replayed
    /// without holding, where each row sees the rows before it. Asked between writes.
    pub fn poison_if_held(&self) -> bool {
        let Some(batch) = &self.batch else {
            return false;
        };
        let Ok(mut state) = batch.try_lock() else {
            return false;
        };
        if state.held_rows.is_empty() {
            return false;
        }
        state.poisoned = true;
        true
    }

    /// Makes the batch's next writes one: [`Store::end_group`] keeps them all or none. For an
    /// import row that is several use cases (a phone with its user): a failure of the last
    /// must not leave the first done. Run optimistically, the group takes no savepoint: a
    /// group that ends badly poisons the batch, which is then replayed with them. Does nothing
    /// on a store that is not batched.
    pub async fn begin_group(&self) -> Result<()> {
        let Some(batch) = &self.batch else {
            return Ok(());
        };
        let mut state = batch.lock().await;
        if state.poisoned || self.optimistic() {
            return Ok(());
        }
        if state.tx.is_none() {
            let (tx, guard) = self.begin_own().await?;
            state.tx = Some(tx);
            state._guard = guard;
        }
        state.settle().await?;
        state.write_held().await?;
        sqlx::query("SAVEPOINT dialtone_group")
            .execute(state.conn())
            .await?;
        state.group = Some((state.audit.len(), state.changes.len()));
        Ok(())
    }

    /// Ends what [`Store::begin_group`] began: keeps its writes (`keep`) or rolls them all
    /// back, with the audit entries and changes they held for the batch's commit.
    pub async fn end_group(&self, keep: bool) -> Result<()> {
        let Some(batch) = &self.batch else {
            return Ok(());
        };
        let mut state = batch.lock().await;
        let Some((audit, changes)) = state.group.take() else {
            // Optimistic: nothing to roll back to but the batch itself.
            if !keep && self.optimistic() {
                state.poisoned = true;
            }
            return Ok(());
        };
        if state.tx.is_none() || state.poisoned {
            return Ok(());
        }
        state.settle().await?;
        if !keep {
            sqlx::query("ROLLBACK TO SAVEPOINT dialtone_group")
                .execute(state.conn())
                .await?;
            state.audit.truncate(audit);
            state.changes.truncate(changes);
        }
        sqlx::query("RELEASE SAVEPOINT dialtone_group")
            .execute(state.conn())
            .await?;
        Ok(())
    }

    /// Throws away what a batched store wrote since its last commit.
    pub async fn rollback_batch(&self) {
        if let Some(batch) = &self.batch {
            let mut state = batch.lock().await;
            state.tx = None;
            state._guard = None;
            state.undo = false;
            state.poisoned = false;
            state.bump = false;
            state.audit.clear();
            state.changes.clear();
            state.group = None;
            state.held_rows.clear();
        }
    }

    /// A connection for reads. On a batched store with writes pending, the batch's transaction:
    /// reads see what the batch wrote.
    pub async fn read(&self) -> Result<ReadConn> {
        if let Some(batch) = &self.batch {
            // Inside one of the batch's writes, the read goes to the pool (committed data).
            if let Ok(mut state) = batch.clone().try_lock_owned() {
                if state.tx.is_some() {
                    state.settle().await?;
                    state.write_held().await?;
                    return Ok(ReadConn::Batched(state));
                }
            }
        }
        Ok(ReadConn::Pool(self.pool.acquire().await?))
    }

    /// A read-only transaction: every statement run on it sees the same committed state (one
    /// snapshot), e.g. a phone file and the generation it was rendered at. On a batched store
    /// with writes pending, the batch's transaction.
    pub async fn snapshot(&self) -> Result<Snapshot> {
        if let Some(batch) = &self.batch {
            if let Ok(mut state) = batch.clone().try_lock_owned() {
                if state.tx.is_some() {
                    state.settle().await?;
                    state.write_held().await?;
                    return Ok(Snapshot::Batched(state));
                }
            }
        }
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN").await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        Ok(Snapshot::Own(tx))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// On PostgreSQL, follows the commits of other processes and nodes as they are announced
    /// (LISTEN on [`COMMIT_CHANNEL`]), so that [`Store::generation`] knows of them within
    /// milliseconds. A lost connection is opened again, and the generation then read afresh
    /// (announcements made meanwhile are lost); until then the poll every
    /// `GENERATION_RECHECK` stands in. Nothing to do on SQLite (one machine: the poll).
    pub fn follow_commits(&self) -> Option<tokio::task::JoinHandle<()>> {
        use std::sync::atomic::Ordering;
        if self.backend != Backend::Postgres {
            return None;
        }
        let url = self.url.clone();
        let g = self.generation.clone();
        Some(tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            loop {
                let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for other nodes' commits: polling");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                        continue;
                    }
                };
                if let Err(e) = listener.listen(COMMIT_CHANNEL).await {
                    tracing::warn!(error = %e, "cannot listen for other nodes' commits: polling");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                    continue;
                }
                wait = Duration::from_millis(100);
                // Heard from now on; what was committed before is read afresh.
                g.listening.store(true, Ordering::Release);
                g.checked_ms.store(0, Ordering::Release);
                tracing::debug!("listening for other nodes' commits");
                // Until the connection is lost (`Ok(None)`, or an error): what is announced
                // meanwhile is not heard.
                while let Ok(Some(n)) = listener.try_recv().await {
                    if let Ok(n) = n.payload().parse::<i64>() {
                        g.known.fetch_max(n, Ordering::AcqRel);
                    }
                }
                g.listening.store(false, Ordering::Release);
                g.checked_ms.store(0, Ordering::Release);
                tracing::warn!("lost the announcements of other nodes' commits: polling until they are heard again");
                tokio::time::sleep(wait).await;
            }
        }))
    }

    /// Copies the database, while servers use it, into the new file `path`: one moment's
    /// consistent copy (SQLite's `VACUUM INTO`), readable by its owner alone. On PostgreSQL
    /// `pg_dump` does it (docs/scale-out.md).
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(Error::Config(
                "on PostgreSQL, back up with pg_dump (docs/scale-out.md); this command copies a SQLite file".into(),
            ));
        }
        if path.exists() {
            return Err(Error::Config(format!(
                "{} exists: give a new file to back up into",
                path.display()
            )));
        }
        // Made empty and private first: SQLite writes into an empty file, keeping its mode.
        keep_private(path, true)?;
        let done = sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().to_string())
            .execute(&self.pool)
            .await;
        if let Err(e) = done {
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
        Ok(())
    }

    /// The database's clock, in milliseconds since 1970: what the nodes of a cluster agree on
    /// (their own clocks may differ).
    pub async fn clock_ms(&self) -> Result<i64> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
            }
            Backend::Postgres => {
                "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
            }
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
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

/// Whether a time the store wrote (`at`) is more than `d` ago; a time that does not parse is.
pub fn older_than(at: &str, d: Duration) -> bool {
    let f = time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(at, &f) {
        Ok(t) => time::OffsetDateTime::now_utc() - t > d,
        Err(_) => true,
    }
}

/// The current time as the store writes it: RFC 3339, UTC, milliseconds (sorts as text).
pub fn now() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// The time `d` from now, as [`now`] writes it.
pub fn time_after(d: Duration) -> String {
    format_time(time::OffsetDateTime::now_utc() + d)
}

/// The time `d` ago, as [`now`] writes it.
pub fn time_ago(d: Duration) -> String {
    format_time(time::OffsetDateTime::now_utc() - d)
}

/// A time as the store writes it (UTC, milliseconds).
pub fn format_time(t: time::OffsetDateTime) -> String {
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
