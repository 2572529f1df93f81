//! An uploaded CSV file, spooled to disk as it arrives so that an upload holds a buffer of memory
//! whatever its size.

use crate::{Error, Result};

/// The largest CSV file an import takes: a whole company's file is a few tens of megabytes.
pub const MAX_IMPORT_BYTES: u64 = 256 << 20;

/// A CSV file uploaded for import, written to an unnamed temporary file as it arrives (in the
/// system's temporary folder, `TMPDIR`; readable by this process only, and gone when dropped or
/// when the process dies): an upload holds a buffer of memory, whatever its size.
pub struct Spooled {
    pub(crate) file: std::fs::File,
    pub(crate) len: u64,
}

impl std::fmt::Debug for Spooled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spooled").field("len", &self.len).finish()
    }
}

impl Spooled {
    /// Writes `body` (at most [`MAX_IMPORT_BYTES`]) to a temporary file; `name` is the file's
    /// name, for the errors.
    pub async fn write(mut body: impl tokio::io::AsyncRead + Unpin, name: &str) -> Result<Spooled> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let file = tokio::task::spawn_blocking(tempfile::tempfile)
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| {
                Error::Internal(format!(
                    "cannot make a temporary file for the upload in {}: {e}",
                    std::env::temp_dir().display()
                ))
            })?;
        let mut out = tokio::fs::File::from_std(file);
        let mut limited = (&mut body).take(MAX_IMPORT_BYTES + 1);
        let len = tokio::io::copy(&mut limited, &mut out)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                    Error::Internal(format!(
                        "the temporary folder {} is full: {e}",
                        std::env::temp_dir().display()
                    ))
                }
                _ => Error::invalid("file", format!("the upload of {name} broke off: {e}")),
            })?;
        if len > MAX_IMPORT_BYTES {
            return Err(Error::TooLarge(format!(
                "{name} is larger than {} MB, the most an import takes: split it",
                MAX_IMPORT_BYTES >> 20
            )));
        }
        out.flush()
            .await
            .map_err(|e| Error::Internal(format!("writing the upload of {name}: {e}")))?;
        Ok(Spooled {
            file: out.into_std().await,
            len,
        })
    }

    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file from its start (blocking).
    pub(crate) fn rewound(mut self) -> std::io::Result<std::fs::File> {
        use std::io::Seek;
        self.file.rewind()?;
        Ok(self.file)
    }
}
