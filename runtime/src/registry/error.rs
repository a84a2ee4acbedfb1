//! `RegistryError`: every way a registry operation fails, each saying what was being done and to what.

use std::path::PathBuf;

#[derive(Debug)]
pub enum RegistryError {
    /// A file-system operation on the registry's files or on the artifact being registered.
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A SQLite statement failed.
    Database {
        action: &'static str,
        source: rusqlite::Error,
    },
    /// The database was written by a newer kfl.
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// `registry.db` exists but is empty: kfl never leaves one so (it creates the file whole), so something else
    /// emptied it, and opening it would start a new registry that reuses version numbers.
    EmptyDatabase {
        path: PathBuf,
    },
    /// A write failed because the registry's file system is full; SQLite rolled it back.
    DiskFull {
        path: PathBuf,
        source: Box<RegistryError>,
    },
    /// A row or a response holds something this version cannot read.
    Corrupt {
        what: String,
    },
    /// A name, version, label, param or metric that the registry refuses.
    Invalid {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    ModelNotFound {
        model: String,
    },
    VersionNotFound {
        model: String,
        version: String,
    },
    NoVersions {
        model: String,
    },
    VersionExists {
        model: String,
        version: String,
    },
    /// The request to a remote registry did not complete (connection, timeout, unreadable body).
    Http {
        method: &'static str,
        url: String,
        message: String,
    },
    /// The remote registry answered with an error status.
    Server {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
}

impl RegistryError {
    /// True for errors about what the user asked for (unknown model, taken version), as opposed to I/O failures.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            RegistryError::Invalid { .. }
                | RegistryError::ModelNotFound { .. }
                | RegistryError::VersionNotFound { .. }
                | RegistryError::NoVersions { .. }
                | RegistryError::VersionExists { .. }
        )
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RegistryError {
        let path = path.into();
        move |source| RegistryError::Io { action, path, source }
    }

    pub(crate) fn db(action: &'static str) -> impl FnOnce(rusqlite::Error) -> RegistryError {
        move |source| RegistryError::Database { action, source }
    }
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Io { action, path, source } => write!(f, "could not {action} {}: {source}", path.display()),
            RegistryError::Database { action, source } => write!(f, "registry database: could not {action}: {source}"),
            RegistryError::DiskFull { path, source } => write!(
                f,
                "{source}: the file system of {} is full. Nothing was written and the registry is as it was; free \
                 space and retry (`kfl models list` and `show` read it meanwhile)",
                path.display()
            ),
            RegistryError::EmptyDatabase { path } => write!(
                f,
                "{} is empty (0 bytes), so it is not a registry kfl wrote: something truncated or replaced it, and \
                 using it would start over and reuse version numbers. Restore it from a backup, or delete it (and its \
                 -wal and -shm files) to start an empty registry on purpose",
                path.display()
            ),
            RegistryError::SchemaTooNew { path, found, supported } => write!(
                f,
                "{} has schema version {found}, newer than the {supported} this kfl understands; upgrade kfl",
                path.display()
            ),
            RegistryError::Corrupt { what } => write!(f, "registry data is unreadable: {what}"),
            RegistryError::Invalid { what, value, reason } => write!(f, "invalid {what} `{value}`: {reason}"),
            RegistryError::ModelNotFound { model } => write!(f, "no registered model named `{model}`"),
            RegistryError::VersionNotFound { model, version } => {
                write!(f, "model `{model}` has no version `{version}`")
            }
            RegistryError::NoVersions { model } => write!(f, "model `{model}` has no versions"),
            RegistryError::VersionExists { model, version } => {
                write!(f, "model `{model}` already has a version `{version}`; versions are immutable")
            }
            RegistryError::Http { method, url, message } => write!(f, "{method} {url} failed: {message}"),
            RegistryError::Server { method, url, status, message } => {
                write!(f, "{method} {url} answered {status}: {message}")
            }
        }
    }
}

impl std::error::Error for RegistryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegistryError::Io { source, .. } => Some(source),
            RegistryError::Database { source, .. } => Some(source),
            RegistryError::DiskFull { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
