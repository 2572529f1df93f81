//! Throw-away databases for tests, on every backend this machine has.
//!
//! SQLite always; PostgreSQL at `DIALTONE_TEST_POSTGRES` (default
//! `postgres://postgres:postgres@127.0.0.1:5432/postgres`), where each test gets a database of
//! its own. When PostgreSQL cannot be reached the PostgreSQL half is skipped with a message on
//! stderr — unless `DIALTONE_REQUIRE_PEERS=1`, which makes that a failure (CI sets it).

use crate::Store;
use std::sync::atomic::{AtomicU64, Ordering};

pub const DEFAULT_PG: &str = "postgres://postgres:postgres@127.0.0.1:5432/postgres";

/// A database URL of a fresh, empty database, dropped (PostgreSQL) or deleted (SQLite) with
/// this value.
pub struct TestDb {
    pub url: String,
    pub label: &'static str,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Pg { admin: String, name: String },
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        t % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn require_peers() -> bool {
    std::env::var("DIALTONE_REQUIRE_PEERS")
        .map(|v| v == "1" || v == "true")
        .unwrap_or(false)
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let path = std::env::temp_dir().join(format!("{}.db", unique("dialtone_test")));
        TestDb {
            url: format!("sqlite:{}", path.display()),
            label: "sqlite",
            cleanup: Cleanup::File(path),
        }
    }

    /// A fresh PostgreSQL database, or `None` (with a message) when there is no server.
    pub async fn postgres() -> Option<TestDb> {
        let admin =
            std::env::var("DIALTONE_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_PG.to_string());
        sqlx::any::install_default_drivers();
        let mut conn = match <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                if require_peers() {
                    panic!(
                        "DIALTONE_REQUIRE_PEERS=1 but PostgreSQL at {} is not reachable: {e}",
                        crate::redact_url(&admin)
                    );
                }
                eprintln!(
                    "SKIPPED the PostgreSQL half of this test: no server at {} ({e})",
                    crate::redact_url(&admin)
                );
                return None;
            }
        };
        let name = unique("dialtone_test");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Some(TestDb {
            url: format!("{base}/{name}"),
            label: "postgres",
            cleanup: Cleanup::Pg { admin, name },
        })
    }

    /// The backends to run a store test on: SQLite, and PostgreSQL when there is one.
    pub async fn all() -> Vec<TestDb> {
        let mut v = vec![TestDb::sqlite()];
        if let Some(pg) = TestDb::postgres().await {
            v.push(pg);
        }
        v
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {}: {e}", self.label))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(p) => {
                for suffix in ["", "-wal", "-shm", ".key", ".tls.crt", ".tls.key"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
                }
            }
            Cleanup::Pg { admin, name } => {
                // Dropping needs every connection closed; do it from a thread of its own so it
                // works whether or not a runtime is still running here.
                let (admin, name) = (admin.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .ok()?;
                    rt.block_on(async {
                        let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                            .await
                            .ok()?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut c)
                            .await
                            .ok()
                    })
                })
                .join();
            }
        }
    }
}
