//! The registry database schema as an ordered list of migrations; `PRAGMA user_version` records how many ran.

use std::path::Path;

use rusqlite::Connection;

use super::{RegistryError, Result};

/// One step of the schema. Each runs in its own transaction together with the `user_version` bump, so a crash
/// leaves the database at either the old or the new version.
pub(crate) struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    // 1: the three Model Registry entities. Lineage inputs started as a JSON column on the version.
    Migration {
        version: 1,
        sql: "
        CREATE TABLE registered_model (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT,
            state TEXT NOT NULL CHECK (state IN ('LIVE', 'ARCHIVED')),
            create_time_ms INTEGER NOT NULL,
            update_time_ms INTEGER NOT NULL
        );
        CREATE TABLE model_version (
            id INTEGER PRIMARY KEY,
            registered_model_id INTEGER NOT NULL REFERENCES registered_model (id),
            name TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('LIVE', 'ARCHIVED')),
            description TEXT,
            labels TEXT NOT NULL DEFAULT '{}',
            params TEXT NOT NULL DEFAULT '{}',
            metrics TEXT NOT NULL DEFAULT '{}',
            run_id TEXT,
            stage TEXT,
            input_hashes TEXT NOT NULL DEFAULT '{}',
            create_time_ms INTEGER NOT NULL,
            update_time_ms INTEGER NOT NULL,
            UNIQUE (registered_model_id, name)
        );
        CREATE TABLE model_artifact (
            id INTEGER PRIMARY KEY,
            model_version_id INTEGER NOT NULL UNIQUE REFERENCES model_version (id),
            uri TEXT NOT NULL,
            store_path TEXT,
            digest TEXT,
            model_format_name TEXT,
            model_format_version TEXT,
            create_time_ms INTEGER NOT NULL
        );
        ",
    },
    // 2: lineage inputs get their own table, so the versions trained from a given input hash can be found with an
    // index instead of scanning JSON; the existing JSON is moved over in declaration order.
    Migration {
        version: 2,
        sql: "
        CREATE TABLE model_version_input (
            model_version_id INTEGER NOT NULL REFERENCES model_version (id),
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (model_version_id, position)
        );
        CREATE INDEX model_version_input_sha256 ON model_version_input (sha256);
        INSERT INTO model_version_input (model_version_id, position, name, sha256)
            SELECT model_version.id, inputs.id, inputs.key, inputs.value
            FROM model_version, json_each(model_version.input_hashes) AS inputs;
        ALTER TABLE model_version DROP COLUMN input_hashes;
        CREATE INDEX model_artifact_digest ON model_artifact (digest);
        ",
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

/// Brings the database at `path` up to `target` (normally [`SCHEMA_VERSION`]). The version is read inside each
/// migration's write transaction, so processes opening a fresh database at the same time never apply a step twice.
pub(crate) fn migrate(conn: &mut Connection, path: &Path, target: i64) -> Result<()> {
    loop {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(RegistryError::db("start a schema migration"))?;
        let current: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(RegistryError::db("read the schema version"))?;
        if current > SCHEMA_VERSION {
            return Err(RegistryError::SchemaTooNew {
                path: path.to_path_buf(),
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(migration) = MIGRATIONS.iter().find(|m| m.version == current + 1 && m.version <= target) else {
            return Ok(());
        };
        tx.execute_batch(migration.sql).map_err(RegistryError::db("migrate the schema"))?;
        tx.pragma_update(None, "user_version", migration.version)
            .map_err(RegistryError::db("record the schema version"))?;
        tx.commit().map_err(RegistryError::db("commit a schema migration"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_the_schema_version() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    #[test]
    fn version_one_data_survives_the_move_of_inputs_to_their_own_table() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn, Path::new(":memory:"), 1).expect("migrate to 1");
        conn.execute_batch(
            r#"
            INSERT INTO registered_model VALUES (1, 'iris', NULL, 'LIVE', 10, 10);
            INSERT INTO model_version (id, registered_model_id, name, state, run_id, stage, input_hashes,
                                       create_time_ms, update_time_ms)
                VALUES (1, 1, '1', 'LIVE', 'run-1', 'register', '{"train":"aa","eval":"bb"}', 10, 10);
            INSERT INTO model_artifact VALUES (1, 1, 'file:///m', 'sha256/cc', 'cc', 'sklearn', '1', 10);
            "#,
        )
        .expect("insert v1 rows");
        migrate(&mut conn, Path::new(":memory:"), SCHEMA_VERSION).expect("migrate to latest");
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let mut statement =
            conn.prepare("SELECT name, sha256 FROM model_version_input ORDER BY position").expect("prepare");
        let inputs: Vec<(String, String)> = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(inputs, vec![("train".into(), "aa".into()), ("eval".into(), "bb".into())]);
        let has_column = conn.prepare("SELECT input_hashes FROM model_version").is_ok();
        assert!(!has_column, "the JSON column is gone");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).expect("set version");
        let err = migrate(&mut conn, Path::new("x.db"), SCHEMA_VERSION).expect_err("too new");
        assert!(matches!(err, RegistryError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1));
    }
}
