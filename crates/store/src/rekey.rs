//! Every value sealed under the installation's secret key, for `dialtone rotate-key` to open
//! with the old key and seal again with the new one; and the lock that keeps a server running
//! on the old key from meeting a rotation (it would go on sealing under the old key).

use crate::{Backend, Error, Result, Store};
use sqlx::AnyConnection;

/// A column holding sealed values: `prefix` + the sealed text (`sealed:` where a password
/// waits for its hash, nothing elsewhere).
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    /// The row's key column.
    pub key: &'static str,
    pub column: &'static str,
    pub prefix: &'static str,
}

const fn sealed(table: &'static str, column: &'static str) -> SealedColumn {
    SealedColumn {
        table,
        key: "id",
        column,
        prefix: "",
    }
}

const fn waiting(table: &'static str, column: &'static str) -> SealedColumn {
    SealedColumn {
        table,
        key: "id",
        column,
        prefix: crate::secrets::SEALED,
    }
}

/// Every one of them. A new sealed column must be added here (the rotation test checks each
/// kind of secret survives a rotation).
pub const SEALED_COLUMNS: [SealedColumn; 10] = [
    sealed("users", "digest_credential_enc"),
    sealed("devices", "http_password_enc"),
    sealed("devices", "profile_key_enc"),
    sealed("systems", "profile_key_enc"),
    sealed("ldap_profiles", "password_enc"),
    SealedColumn {
        table: "import_files",
        key: "job_id",
        column: "sealed",
        prefix: "",
    },
    sealed("import_parts", "sealed"),
    waiting("users", "password_hash"),
    waiting("users", "pin_hash"),
    waiting("voicemail_subscribers", "pin_hash"),
];

impl SealedColumn {
    /// The keys of the rows holding a sealed value in this column.
    pub async fn rows(&self, conn: &mut AnyConnection) -> Result<Vec<i64>> {
        // The names come from the list above, never from input.
        let sql = format!(
            "SELECT {key} FROM {table} WHERE {column} IS NOT NULL AND {column} LIKE $1 ORDER BY {key}",
            key = self.key,
            table = self.table,
            column = self.column
        );
        Ok(sqlx::query_scalar(&sql)
            .bind(format!("{}%", self.prefix))
            .fetch_all(conn)
            .await?)
    }

    /// The sealed text of one row (without the prefix).
    pub async fn get(&self, conn: &mut AnyConnection, row: i64) -> Result<Option<String>> {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = $1",
            self.column, self.table, self.key
        );
        let v: Option<Option<String>> = sqlx::query_scalar(&sql)
            .bind(row)
            .fetch_optional(conn)
            .await?;
        Ok(v.flatten()
            .and_then(|v| v.strip_prefix(self.prefix).map(str::to_string)))
    }

    /// Puts `sealed` (without the prefix) in place, touching nothing else: the record's
    /// version stays, since what it says has not changed.
    pub async fn put(&self, conn: &mut AnyConnection, row: i64, sealed: &str) -> Result<()> {
        let sql = format!(
            "UPDATE {} SET {} = $1 WHERE {} = $2",
            self.table, self.column, self.key
        );
        sqlx::query(&sql)
            .bind(format!("{}{sealed}", self.prefix))
            .bind(row)
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// The advisory lock's number on PostgreSQL ("dialtone serving").
const SERVING_LOCK: i64 = 0x6469_616c_746f_6e65;

/// Held while something uses the secret key: shared by every running server, exclusive by a
/// rotation. Dropping it lets go.
pub struct KeyLock {
    _held: Held,
}

enum Held {
    /// The session that holds the advisory lock on PostgreSQL.
    Postgres(#[allow(dead_code)] AnyConnection),
    /// The `flock` on the SQLite file.
    File(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>),
    /// An in-memory SQLite database: nothing else can reach it.
    Nothing,
}

impl Store {
    /// Takes the key lock shared (a server), or exclusive (a rotation); refused, with what
    /// holds it, when the other kind holds it.
    pub async fn key_lock(&self, exclusive: bool) -> Result<KeyLock> {
        let busy = || {
            Error::Config(if exclusive {
                "a Dialtone server is running on this database: stop every node before rotating the secret key".into()
            } else {
                "the secret key is being rotated (dialtone rotate-key): start once it has finished"
                    .into()
            })
        };
        let held = match self.backend {
            Backend::Postgres => {
                let mut c = self.pool.acquire().await?.detach();
                let f = if exclusive {
                    "pg_try_advisory_lock"
                } else {
                    "pg_try_advisory_lock_shared"
                };
                let got: bool = sqlx::query_scalar(&format!("SELECT {f}($1)"))
                    .bind(SERVING_LOCK)
                    .fetch_one(&mut c)
                    .await?;
                if !got {
                    return Err(busy());
                }
                Held::Postgres(c)
            }
            Backend::Sqlite => {
                let url = self.pool.connect_options().database_url.to_string();
                match crate::sqlite_file(&url) {
                    None => Held::Nothing,
                    Some(path) => {
                        use nix::fcntl::{Flock, FlockArg};
                        let file = std::fs::File::open(&path).map_err(|e| {
                            Error::Config(format!("cannot open {}: {e}", path.display()))
                        })?;
                        let arg = if exclusive {
                            FlockArg::LockExclusiveNonblock
                        } else {
                            FlockArg::LockSharedNonblock
                        };
                        Held::File(Flock::lock(file, arg).map_err(|_| busy())?)
                    }
                }
            }
        };
        Ok(KeyLock { _held: held })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    /// A column that holds sealed values (`…_enc`, `sealed`) left out of the list would keep
    /// the old key after a rotation, and stop opening.
    #[tokio::test]
    async fn every_sealed_column_is_listed() {
        let db = TestDb::sqlite();
        let store = db.open().await;
        let mut c = store.read().await.unwrap();
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table'",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap();
        let mut found = 0;
        for (table, column) in &columns {
            if column.ends_with("_enc") || column == "sealed" {
                found += 1;
                assert!(
                    SEALED_COLUMNS
                        .iter()
                        .any(|s| s.table == table && s.column == column),
                    "{table}.{column} holds sealed values: add it to SEALED_COLUMNS"
                );
            }
        }
        assert_eq!(found, 7, "{columns:?}");
        for s in SEALED_COLUMNS {
            assert!(
                columns.iter().any(|(t, c)| t == s.table && c == s.column),
                "{}.{} is not in the schema",
                s.table,
                s.column
            );
        }
    }
}
