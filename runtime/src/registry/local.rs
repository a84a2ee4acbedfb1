//! `Registry`: the local model registry in `<project>/.kfl/registry.db` (SQLite, WAL), with artifacts in the
//! project's content-addressed store. Every write is one transaction.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use super::content_store::ContentStore;
use super::records::{
    ArtifactSource, Lineage, ModelArtifactRecord, ModelFormat, ModelState, ModelVersionRecord, PropertyValue,
    RegisteredModelRecord, Registration, now_ms,
};
use super::schema::{self, SCHEMA_VERSION};
use super::{ModelStore, RegistryError, Result};

/// The registry's file in a project's `.kfl/`.
const PATH_IN_KFL: &str = "registry.db";

/// Bytes a checkpointed -wal file is truncated to (SQLite's `journal_size_limit`).
const WAL_SIZE_LIMIT: i64 = 4 * 1024 * 1024;

/// Creates the database at `path` when there is none, whole: the schema is written to a temporary file that is
/// then linked into place, so `path` is never an empty file of kfl's making, and an empty one can be refused.
/// Of two processes creating it at once, the first link wins and the other's file is discarded.
fn create_whole(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    // Unique per call: threads of one process may create it at once too.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let fresh = path.with_file_name(format!(".{PATH_IN_KFL}.new-{}-{call}", std::process::id()));
    let _ = std::fs::remove_file(&fresh);
    let created = (|| {
        let mut conn =
            Connection::open(&fresh).map_err(|source| RegistryError::Database { action: "create", source })?;
        schema::migrate(&mut conn, path, SCHEMA_VERSION)?;
        // Closing in the default rollback-journal mode leaves every page in the file itself.
        conn.close().map_err(|(_, source)| RegistryError::Database { action: "create", source })?;
        match std::fs::hard_link(&fresh, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            // A file system without hard links: a rename is as whole, only not exclusive.
            Err(_) if !path.exists() => std::fs::rename(&fresh, path).map_err(RegistryError::io("create", path)),
            Err(_) | Ok(()) => Ok(()),
        }
    })();
    let _ = std::fs::remove_file(&fresh);
    let mut journal = fresh.into_os_string();
    journal.push("-journal");
    let _ = std::fs::remove_file(journal);
    created
}

/// A failed write, said to be the full disk's doing when the file system at `dir` has no space left (SQLite
/// reports a full disk as `SQLITE_FULL` only for some writes; creating its -shm file fails as an I/O error).
fn explain_full_disk<T>(result: Result<T>, dir: &Path) -> Result<T> {
    result.map_err(|error| {
        let full = nix::sys::statvfs::statvfs(dir).is_ok_and(|fs| fs.blocks_available() == 0);
        if full && !error.is_user_error() {
            RegistryError::DiskFull { path: dir.to_path_buf(), source: Box::new(error) }
        } else {
            error
        }
    })
}

/// A connection that writes nothing; `immutable` also skips the -shm file and locks.
fn read_only_connection(path: &Path, immutable: bool) -> Result<Connection> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = if immutable {
        let uri = format!("file:{}?immutable=1", uri_path(path));
        Connection::open_with_flags(uri, flags)
    } else {
        Connection::open_with_flags(path, flags - OpenFlags::SQLITE_OPEN_URI)
    }
    .map_err(|source| RegistryError::Database { action: "open for reading", source })?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(RegistryError::db("set the busy timeout"))?;
    // Opening is lazy: the first read is what needs the -wal and -shm files.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get::<_, i64>(0))
        .map_err(|source| RegistryError::Database { action: "read", source })?;
    Ok(conn)
}

/// Whether a -wal file with content sits beside the database: then the database file alone may be stale.
fn has_wal(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

/// A path as the path part of an SQLite `file:` URI (RFC 3986 percent-encoding of what a URI would misread).
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::new();
    for byte in absolute.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => out.push(*byte as char),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[derive(Debug)]
pub struct Registry {
    conn: Connection,
    store: ContentStore,
}

const VERSION_COLUMNS: &str = "
    v.id, m.name, v.name, v.state, v.description, v.labels, v.params, v.metrics, v.run_id, v.stage,
    v.create_time_ms, v.update_time_ms, a.id, a.uri, a.store_path, a.digest, a.model_format_name,
    a.model_format_version";

const VERSION_FROM: &str = "
    FROM model_version v
    JOIN registered_model m ON m.id = v.registered_model_id
    JOIN model_artifact a ON a.model_version_id = v.id";

impl Registry {
    /// Opens (creating when needed) the registry of `project_dir` and brings its schema up to date.
    pub fn open(project_dir: &Path) -> Result<Registry> {
        let dir = project_dir.join(".kfl");
        std::fs::create_dir_all(&dir).map_err(RegistryError::io("create", &dir))?;
        let path = dir.join(PATH_IN_KFL);
        let opened = create_whole(&path).and_then(|()| Registry::open_at(&path, ContentStore::in_project(project_dir)));
        explain_full_disk(opened, &dir)
    }

    /// Opens the registry of `project_dir` for reading only, writing nothing (it works on a full disk); `None`
    /// when the project has no registry. A registry whose schema is older than this kfl's is opened for writing
    /// instead, once, to migrate it.
    pub fn open_read_only(project_dir: &Path) -> Result<Option<Registry>> {
        let path = project_dir.join(".kfl").join(PATH_IN_KFL);
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RegistryError::Io { action: "read", path, source: e }),
            Ok(meta) if meta.len() == 0 => return Err(RegistryError::EmptyDatabase { path }),
            Ok(_) => {}
        }
        let store = ContentStore::in_project(project_dir);
        let conn = match read_only_connection(&path, false) {
            Ok(conn) => conn,
            // Without its -wal file the database file holds every commit, so it can be read as immutable: no -shm
            // to create, no lock to take (creating those is what fails on a full disk).
            Err(_) if !has_wal(&path) => read_only_connection(&path, true)?,
            Err(e) => return Err(e),
        };
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(RegistryError::db("read the schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(RegistryError::SchemaTooNew { path, found: version, supported: SCHEMA_VERSION });
        }
        if version < SCHEMA_VERSION {
            drop(conn);
            return Registry::open(project_dir).map(Some);
        }
        Ok(Some(Registry { conn, store }))
    }

    fn open_at(path: &Path, store: ContentStore) -> Result<Registry> {
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(RegistryError::EmptyDatabase { path: path.to_path_buf() });
        }
        let mut conn = Connection::open(path).map_err(|source| RegistryError::Database { action: "open", source })?;
        // Several processes (a run, `kfl models`, the server) share the file; wait for a writer rather than fail.
        conn.busy_timeout(Duration::from_secs(10)).map_err(RegistryError::db("set the busy timeout"))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(RegistryError::db("switch to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(RegistryError::Corrupt { what: format!("{} refused WAL mode (got {mode})", path.display()) });
        }
        // NORMAL in WAL mode survives a killed process; only a power loss can drop the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(RegistryError::db("set synchronous"))?;
        conn.pragma_update(None, "foreign_keys", true).map_err(RegistryError::db("enable foreign keys"))?;
        // The -wal file shrinks back to this after a checkpoint instead of keeping its largest size on disk.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT).map_err(RegistryError::db("limit the WAL"))?;
        schema::migrate(&mut conn, path, SCHEMA_VERSION)?;
        store.remove_stale_staging()?;
        Ok(Registry { conn, store })
    }

    pub fn content_store(&self) -> &ContentStore {
        &self.store
    }

    /// The database connection, for consistency checks in tests and tools.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn model_id(tx: &Transaction<'_>, model: &str) -> Result<Option<i64>> {
        tx.query_row("SELECT id FROM registered_model WHERE name = ?1", [model], |row| row.get(0))
            .optional()
            .map_err(RegistryError::db("look up the model"))
    }

    fn read_versions(&self, filter: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<ModelVersionRecord>> {
        let sql = format!("SELECT {VERSION_COLUMNS} {VERSION_FROM} WHERE {filter} ORDER BY v.id");
        let mut statement = self.conn.prepare_cached(&sql).map_err(RegistryError::db("read versions"))?;
        let rows = statement.query_map(args, RawVersion::from_row).map_err(RegistryError::db("read versions"))?;
        let raw: Vec<RawVersion> = rows.collect::<Result<_, _>>().map_err(RegistryError::db("read versions"))?;
        raw.into_iter().map(|raw| self.finish(raw)).collect()
    }

    fn finish(&self, raw: RawVersion) -> Result<ModelVersionRecord> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT name, sha256 FROM model_version_input WHERE model_version_id = ?1 ORDER BY position",
            )
            .map_err(RegistryError::db("read lineage inputs"))?;
        let input_hashes: IndexMap<String, String> = statement
            .query_map([raw.id], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(RegistryError::db("read lineage inputs"))?;
        let path = raw.store_path.as_ref().map(|relative| self.store.root().join(relative));
        let json = |column: &str, text: &str| RegistryError::Corrupt {
            what: format!("{column} of {} version {}: {text}", raw.model, raw.version),
        };
        Ok(ModelVersionRecord {
            id: raw.id.to_string(),
            state: ModelState::parse(&raw.state).ok_or_else(|| json("state", &raw.state))?,
            labels: serde_json::from_str(&raw.labels).map_err(|_| json("labels", &raw.labels))?,
            params: serde_json::from_str::<IndexMap<String, PropertyValue>>(&raw.params)
                .map_err(|_| json("params", &raw.params))?,
            metrics: serde_json::from_str(&raw.metrics).map_err(|_| json("metrics", &raw.metrics))?,
            lineage: Lineage { run_id: raw.run_id, stage: raw.stage, input_hashes },
            artifact: ModelArtifactRecord {
                id: raw.artifact_id.to_string(),
                uri: raw.uri,
                digest: raw.digest,
                path,
                format: ModelFormat { name: raw.format_name, version: raw.format_version },
            },
            model: raw.model,
            version: raw.version,
            description: raw.description,
            create_time_ms: raw.create_time_ms,
            update_time_ms: raw.update_time_ms,
        })
    }

    fn one_version(&self, model: &str, version: Option<&str>) -> Result<ModelVersionRecord> {
        let found = match version {
            Some(version) => self.read_versions("m.name = ?1 AND v.name = ?2", &[&model, &version])?,
            None => self.read_versions(
                "v.id = (SELECT max(v2.id) FROM model_version v2 JOIN registered_model m2
                         ON m2.id = v2.registered_model_id WHERE m2.name = ?1)",
                &[&model],
            )?,
        };
        if let Some(record) = found.into_iter().next() {
            return Ok(record);
        }
        let known: bool = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM registered_model WHERE name = ?1)", [model], |row| row.get(0))
            .map_err(RegistryError::db("look up the model"))?;
        Err(match (known, version) {
            (false, _) => RegistryError::ModelNotFound { model: model.to_string() },
            (true, Some(version)) => {
                RegistryError::VersionNotFound { model: model.to_string(), version: version.to_string() }
            }
            (true, None) => RegistryError::NoVersions { model: model.to_string() },
        })
    }
}

/// A version row before its JSON columns are parsed and its inputs are fetched.
struct RawVersion {
    id: i64,
    model: String,
    version: String,
    state: String,
    description: Option<String>,
    labels: String,
    params: String,
    metrics: String,
    run_id: Option<String>,
    stage: Option<String>,
    create_time_ms: i64,
    update_time_ms: i64,
    artifact_id: i64,
    uri: String,
    store_path: Option<String>,
    digest: Option<String>,
    format_name: Option<String>,
    format_version: Option<String>,
}

impl RawVersion {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawVersion> {
        Ok(RawVersion {
            id: row.get(0)?,
            model: row.get(1)?,
            version: row.get(2)?,
            state: row.get(3)?,
            description: row.get(4)?,
            labels: row.get(5)?,
            params: row.get(6)?,
            metrics: row.get(7)?,
            run_id: row.get(8)?,
            stage: row.get(9)?,
            create_time_ms: row.get(10)?,
            update_time_ms: row.get(11)?,
            artifact_id: row.get(12)?,
            uri: row.get(13)?,
            store_path: row.get(14)?,
            digest: row.get(15)?,
            format_name: row.get(16)?,
            format_version: row.get(17)?,
        })
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| RegistryError::Corrupt { what: format!("could not encode: {err}") })
}

fn file_uri(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
    format!("file://{}", absolute.display())
}

impl Registry {
    /// The folder of the database file (`.kfl/`).
    fn db_dir(&self) -> PathBuf {
        let path = self.conn.path().map(Path::new).and_then(Path::parent);
        path.map_or_else(|| self.store.root().to_path_buf(), Path::to_path_buf)
    }

    fn set_state_now(&mut self, model: &str, version: &str, state: ModelState) -> Result<ModelVersionRecord> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(RegistryError::db("start the state change"))?;
        let changed = tx
            .execute(
                "UPDATE model_version SET state = ?3, update_time_ms = ?4
                 WHERE name = ?2 AND registered_model_id = (SELECT id FROM registered_model WHERE name = ?1)",
                params![model, version, state.as_str(), now_ms()],
            )
            .map_err(RegistryError::db("change the version state"))?;
        tx.commit().map_err(RegistryError::db("commit the state change"))?;
        if changed == 0 {
            // Reports whether the model or the version is unknown.
            self.one_version(model, Some(version))?;
        }
        self.one_version(model, Some(version))
    }

    fn register_now(&mut self, request: &Registration) -> Result<ModelVersionRecord> {
        super::validate(request)?;
        // The copy happens before the transaction: a crash in between leaves unreferenced content in the store,
        // never a version whose artifact is missing.
        let (uri, store_path, digest) = match &request.artifact {
            ArtifactSource::Path(path) => {
                let stored = self.store.put(path)?;
                (file_uri(&stored.path), Some(stored.relative_path), Some(stored.digest))
            }
            ArtifactSource::Uri(uri) => (uri.clone(), None, None),
        };
        let labels = to_json(&request.labels)?;
        let params = to_json(&request.params)?;
        let metrics = to_json(&request.metrics)?;
        let now = now_ms();
        // IMMEDIATE takes the write lock up front, so two registrations never pick the same next version.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(RegistryError::db("start the registration"))?;
        let model_id = match Registry::model_id(&tx, &request.model)? {
            Some(id) => id,
            None => {
                tx.execute(
                    "INSERT INTO registered_model (name, description, state, create_time_ms, update_time_ms)
                     VALUES (?1, NULL, 'LIVE', ?2, ?2)",
                    params![request.model, now],
                )
                .map_err(RegistryError::db("create the registered model"))?;
                tx.last_insert_rowid()
            }
        };
        let existing: Vec<String> = {
            let mut statement = tx
                .prepare_cached("SELECT name FROM model_version WHERE registered_model_id = ?1")
                .map_err(RegistryError::db("list versions"))?;
            statement
                .query_map([model_id], |row| row.get(0))
                .and_then(|rows| rows.collect())
                .map_err(RegistryError::db("list versions"))?
        };
        let version = match &request.version {
            Some(version) if existing.contains(version) => {
                return Err(RegistryError::VersionExists { model: request.model.clone(), version: version.clone() });
            }
            Some(version) => version.clone(),
            None => super::next_version(existing.iter().map(String::as_str)),
        };
        tx.execute(
            "INSERT INTO model_version (registered_model_id, name, state, description, labels, params, metrics,
                                        run_id, stage, create_time_ms, update_time_ms)
             VALUES (?1, ?2, 'LIVE', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            params![
                model_id,
                version,
                request.description,
                labels,
                params,
                metrics,
                request.lineage.run_id,
                request.lineage.stage,
                now
            ],
        )
        .map_err(RegistryError::db("insert the version"))?;
        let version_id = tx.last_insert_rowid();
        for (position, (name, hash)) in request.lineage.input_hashes.iter().enumerate() {
            tx.execute(
                "INSERT INTO model_version_input (model_version_id, position, name, sha256) VALUES (?1, ?2, ?3, ?4)",
                params![version_id, position as i64, name, hash],
            )
            .map_err(RegistryError::db("insert a lineage input"))?;
        }
        tx.execute(
            "INSERT INTO model_artifact (model_version_id, uri, store_path, digest, model_format_name,
                                         model_format_version, create_time_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![version_id, uri, store_path, digest, request.format.name, request.format.version, now],
        )
        .map_err(RegistryError::db("insert the artifact"))?;
        // The first description given becomes the model's; the model counts as updated by every new version.
        tx.execute(
            "UPDATE registered_model SET description = coalesce(description, ?2), update_time_ms = ?3 WHERE id = ?1",
            params![model_id, request.description, now],
        )
        .map_err(RegistryError::db("update the registered model"))?;
        tx.commit().map_err(RegistryError::db("commit the registration"))?;
        self.one_version(&request.model, Some(&version))
    }
}

impl ModelStore for Registry {
    fn register(&mut self, request: &Registration) -> Result<ModelVersionRecord> {
        let registered = self.register_now(request);
        explain_full_disk(registered, &self.db_dir())
    }

    fn list_models(&self) -> Result<Vec<RegisteredModelRecord>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT m.id, m.name, m.description, m.state, m.create_time_ms, m.update_time_ms,
                        (SELECT count(*) FROM model_version v WHERE v.registered_model_id = m.id),
                        (SELECT v.name FROM model_version v WHERE v.registered_model_id = m.id
                         ORDER BY v.id DESC LIMIT 1)
                 FROM registered_model m ORDER BY m.name",
            )
            .map_err(RegistryError::db("list models"))?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, Option<String>>(7)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(RegistryError::db("list models"))?;
        rows.into_iter()
            .map(|(id, name, description, state, created, updated, count, latest)| {
                let state = ModelState::parse(&state)
                    .ok_or_else(|| RegistryError::Corrupt { what: format!("state of model {name}: {state}") })?;
                Ok(RegisteredModelRecord {
                    id: id.to_string(),
                    name,
                    description,
                    state,
                    version_count: u64::try_from(count).unwrap_or(0),
                    latest_version: latest,
                    create_time_ms: created,
                    update_time_ms: updated,
                })
            })
            .collect()
    }

    fn versions(&self, model: &str) -> Result<Vec<ModelVersionRecord>> {
        let versions = self.read_versions("m.name = ?1", &[&model])?;
        if versions.is_empty() {
            // Distinguishes "no such model" from a model without versions.
            self.one_version(model, None)?;
        }
        Ok(versions)
    }

    fn version(&self, model: &str, version: Option<&str>) -> Result<ModelVersionRecord> {
        self.one_version(model, version)
    }

    fn set_state(&mut self, model: &str, version: &str, state: ModelState) -> Result<ModelVersionRecord> {
        let changed = self.set_state_now(model, version, state);
        explain_full_disk(changed, &self.db_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_twice_keeps_the_schema_and_uses_wal() {
        let project = tempfile::tempdir().expect("tempdir");
        drop(Registry::open(project.path()).expect("first open"));
        let registry = Registry::open(project.path()).expect("second open");
        let mode: String = registry.conn.query_row("PRAGMA journal_mode", [], |row| row.get(0)).expect("mode");
        assert_eq!(mode, "wal");
        let version: i64 = registry.conn.query_row("PRAGMA user_version", [], |row| row.get(0)).expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        assert!(project.path().join(".kfl/registry.db").is_file());
    }

    #[test]
    fn a_version_one_database_on_disk_is_migrated_on_open() {
        let project = tempfile::tempdir().expect("tempdir");
        let path = project.path().join(".kfl/registry.db");
        std::fs::create_dir_all(project.path().join(".kfl")).expect("mkdir");
        {
            let mut conn = Connection::open(&path).expect("create");
            schema::migrate(&mut conn, &path, 1).expect("schema 1");
            conn.execute_batch(
                r#"
                INSERT INTO registered_model VALUES (1, 'iris', 'old', 'LIVE', 5, 5);
                INSERT INTO model_version (id, registered_model_id, name, state, params, run_id, input_hashes,
                                           create_time_ms, update_time_ms)
                    VALUES (1, 1, '1', 'ARCHIVED', '{"depth":3}', 'run-0', '{"data":"aa","code":"bb"}', 5, 6);
                INSERT INTO model_artifact VALUES (1, 1, 's3://old/model', NULL, NULL, 'sklearn', NULL, 5);
                "#,
            )
            .expect("v1 rows");
        }
        let mut registry = Registry::open(project.path()).expect("open migrates");
        let old = registry.version("iris", Some("1")).expect("old version");
        assert_eq!(old.state, ModelState::Archived);
        assert_eq!(old.params.get("depth"), Some(&PropertyValue::Int(3)));
        let inputs: Vec<(&str, &str)> =
            old.lineage.input_hashes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(inputs, [("data", "aa"), ("code", "bb")]);
        let next = registry.register(&Registration::new("iris", ArtifactSource::Uri("s3://new".into()))).expect("new");
        assert_eq!(next.version, "2");
    }

    #[test]
    fn concurrent_registrations_from_separate_connections_get_distinct_versions() {
        let project = tempfile::tempdir().expect("tempdir");
        // No prior open: the threads also race to create the schema.
        std::fs::create_dir_all(project.path().join(".kfl")).expect("mkdir");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let dir = project.path().to_path_buf();
                std::thread::spawn(move || {
                    let mut registry = Registry::open(&dir).expect("open");
                    (0..5)
                        .map(|i| {
                            let uri = format!("s3://m/{t}/{i}");
                            registry
                                .register(&Registration::new("iris", ArtifactSource::Uri(uri)))
                                .expect("register")
                                .version
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut versions: Vec<u64> =
            threads.into_iter().flat_map(|t| t.join().expect("thread")).map(|v| v.parse().expect("numeric")).collect();
        versions.sort_unstable();
        assert_eq!(versions, (1..=20).collect::<Vec<u64>>());
    }
}
