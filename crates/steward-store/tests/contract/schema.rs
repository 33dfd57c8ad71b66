//! Contract: both backends end up with the same schema, and a database migrated by the
//! two-file layout (releases up to migration 0010) is taken as it is.
//!
//! The schema is read from each database's catalogue and normalised to what the store's
//! queries rely on:
//! - a column's type family: `integer` (INTEGER, BIGINT, INT8…), `text` (TEXT, VARCHAR…),
//!   `bytes` (BLOB, BYTEA), `float`, `boolean`. Flags are BIGINT 0/1 on both backends (the
//!   `Any` driver reads one integer type from both), so a BOOLEAN column on one side only
//!   shows as a difference; a type not listed here fails the test until it is placed;
//! - nullability; a default's presence and value (PostgreSQL's `::type` casts removed);
//!   whether the database assigns the value (SQLite's INTEGER PRIMARY KEY, PostgreSQL's
//!   identity);
//! - the primary key; indexes by name (unique or not, with their columns or expressions),
//!   those behind a UNIQUE constraint by their columns (each database names them its own
//!   way); foreign keys with their ON DELETE action.
//!
//! One known difference is normalised away: SQLite lets a PRIMARY KEY column that is not
//! INTEGER hold NULL (a compatibility quirk SQLite keeps; PostgreSQL's primary keys are NOT
//! NULL). Every such column here is an id the store always writes, and tightening them
//! would mean rebuilding the tables on SQLite, so primary-key columns count as NOT NULL.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use steward_store::testing::{self, TestDatabase};

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    family: &'static str,
    not_null: bool,
    default: Option<String>,
    generated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    /// The index's name, or `unique(…)` for one made by a UNIQUE constraint.
    name: String,
    unique: bool,
    columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    column: String,
    references: String,
    on_delete: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    indexes: BTreeSet<Index>,
    foreign_keys: BTreeSet<ForeignKey>,
}

type Schema = BTreeMap<String, Table>;

fn family(declared: &str) -> &'static str {
    let t = declared.trim().to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or("").trim();
    match base {
        "integer" | "int" | "bigint" | "int8" | "int4" | "smallint" | "int2" => "integer",
        "text" | "varchar" | "character varying" | "char" | "character" => "text",
        "blob" | "bytea" => "bytes",
        "real" | "double precision" | "float8" | "float4" => "float",
        "boolean" | "bool" => "boolean",
        _ => panic!("column type {declared:?}: decide its family in tests/contract/schema.rs"),
    }
}

/// PostgreSQL writes `'admin'::text` for SQLite's `'admin'`.
fn normalise_default(default: &str) -> String {
    let d = default.trim();
    match d.rsplit_once("::") {
        Some((value, cast)) if cast.bytes().all(|b| b.is_ascii_lowercase() || b == b' ') => {
            value.to_string()
        }
        _ => d.to_string(),
    }
}

fn on_delete(action: &str) -> String {
    match action {
        // PostgreSQL's one-letter codes (pg_constraint.confdeltype).
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        other => other,
    }
    .to_string()
}

/// The column list of `CREATE [UNIQUE] INDEX name ON table (a, lower(b)) [WHERE …]`, split
/// at the top-level commas. A partial index's condition is not compared (PostgreSQL gives
/// the columns one by one, without it).
fn index_columns(sql: &str) -> Vec<String> {
    let after_on = &sql[sql.find(" ON ").unwrap() + 4..];
    let open = after_on.find('(').unwrap();
    let mut columns = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for c in after_on[open + 1..].chars() {
        match c {
            '(' => depth += 1,
            // The list's own closing parenthesis.
            ')' if depth == 0 => break,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                columns.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    columns.push(current.trim().to_string());
    columns
}

async fn sqlite_schema(url: &str) -> Schema {
    let mut conn = SqliteConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let rows = sqlx::query(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut primary_key: Vec<(i64, String)> = Vec::new();
        let mut columns = Vec::new();
        for row in &rows {
            let name: String = row.get("name");
            let declared: String = row.get("type");
            let pk: i64 = row.get("pk");
            if pk > 0 {
                primary_key.push((pk, name.clone()));
            }
            columns.push(Column {
                name,
                family: family(&declared),
                not_null: row.get::<i64, _>("notnull") != 0 || pk > 0,
                default: row
                    .get::<Option<String>, _>("dflt_value")
                    .map(|d| normalise_default(&d)),
                // A lone INTEGER PRIMARY KEY is the rowid: SQLite assigns it.
                generated: pk > 0 && declared.eq_ignore_ascii_case("integer"),
            });
        }
        primary_key.sort();
        if primary_key.len() > 1 {
            for c in &mut columns {
                c.generated = false;
            }
        }
        let mut indexes = BTreeSet::new();
        let list = sqlx::query("SELECT name, \"unique\", origin FROM pragma_index_list(?)")
            .bind(&table)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for index in list {
            let name: String = index.get("name");
            let unique = index.get::<i64, _>("unique") != 0;
            match index.get::<String, _>("origin").as_str() {
                "pk" => continue,
                "c" => {
                    let sql: String =
                        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = ?")
                            .bind(&name)
                            .fetch_one(&mut conn)
                            .await
                            .unwrap();
                    indexes.insert(Index {
                        name,
                        unique,
                        columns: index_columns(&sql),
                    });
                }
                _ => {
                    let columns: Vec<String> =
                        sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                            .bind(&name)
                            .fetch_all(&mut conn)
                            .await
                            .unwrap();
                    indexes.insert(Index {
                        name: format!("unique({})", columns.join(", ")),
                        unique,
                        columns,
                    });
                }
            }
        }
        let foreign_keys = sqlx::query(
            "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?)",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|fk| ForeignKey {
            column: fk.get("from"),
            references: format!(
                "{}({})",
                fk.get::<String, _>("table"),
                fk.get::<String, _>("to")
            ),
            on_delete: on_delete(fk.get("on_delete")),
        })
        .collect();
        schema.insert(
            table,
            Table {
                columns,
                primary_key: primary_key.into_iter().map(|(_, c)| c).collect(),
                indexes,
                foreign_keys,
            },
        );
    }
    conn.close().await.unwrap();
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let columns = sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS type, \
                    is_nullable::text AS nullable, column_default::text AS dflt, \
                    is_identity::text AS identity \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let default: Option<String> = row.get("dflt");
            let serial = default
                .as_deref()
                .is_some_and(|d| d.starts_with("nextval("));
            Column {
                name: row.get("name"),
                family: family(row.get("type")),
                not_null: row.get::<String, _>("nullable") == "NO",
                default: default.filter(|_| !serial).map(|d| normalise_default(&d)),
                generated: serial || row.get::<String, _>("identity") == "YES",
            }
        })
        .collect();
        let primary_key: Vec<String> = sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY k.n",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let indexes = sqlx::query(
            "SELECT c.relname::text AS name, i.indisunique AS is_unique, \
                    EXISTS (SELECT 1 FROM pg_constraint k \
                            WHERE k.conindid = i.indexrelid AND k.contype = 'u') AS constraint_made, \
                    ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                          FROM generate_series(1, i.indnatts::int) AS k ORDER BY k) AS columns \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE i.indrelid = $1::text::regclass AND NOT i.indisprimary",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let columns: Vec<String> = row.get("columns");
            Index {
                name: if row.get("constraint_made") {
                    format!("unique({})", columns.join(", "))
                } else {
                    row.get("name")
                },
                unique: row.get("is_unique"),
                columns,
            }
        })
        .collect();
        let foreign_keys = sqlx::query(
            "SELECT a.attname::text AS col, k.confrelid::regclass::text AS ref_table, \
                    af.attname::text AS ref_col, k.confdeltype::text AS del \
             FROM pg_constraint k \
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] \
             JOIN pg_attribute af ON af.attrelid = k.confrelid AND af.attnum = k.confkey[1] \
             WHERE k.contype = 'f' AND k.conrelid = $1::text::regclass",
        )
        .bind(&table)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|fk| ForeignKey {
            column: fk.get("col"),
            references: format!(
                "{}({})",
                fk.get::<String, _>("ref_table"),
                fk.get::<String, _>("ref_col")
            ),
            on_delete: on_delete(fk.get("del")),
        })
        .collect();
        schema.insert(
            table,
            Table {
                columns,
                primary_key,
                indexes,
                foreign_keys,
            },
        );
    }
    conn.close().await.unwrap();
    schema
}

async fn schema_of(backend: Backend, url: &str) -> Schema {
    match backend {
        Backend::Sqlite => sqlite_schema(url).await,
        Backend::Postgres => postgres_schema(url).await,
    }
}

fn assert_same_schema(left: &Schema, right: &Schema, what: &str) {
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        right.keys().collect::<Vec<_>>(),
        "{what}: tables"
    );
    for (name, table) in left {
        assert_eq!(table, &right[name], "{what}: table {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_migrate_to_the_same_schema() {
    let Some(postgres) = TestDatabase::postgres().await else {
        eprintln!("STEWARD_TEST_PG_URL unset: the schema comparison needs PostgreSQL, skipped");
        return;
    };
    let sqlite = TestDatabase::sqlite();
    let mut schemas = Vec::new();
    for db in [&sqlite, &postgres] {
        Store::connect(&db.url).await.unwrap().close().await;
        schemas.push(schema_of(db.backend, &db.url).await);
    }
    sqlite.cleanup().await;
    postgres.cleanup().await;
    // Something to compare: every table of the store, each with its key.
    assert!(schemas[0].len() >= 20, "{:?}", schemas[0].keys());
    assert!(schemas[0].values().all(|t| !t.primary_key.is_empty()));
    assert_same_schema(&schemas[0], &schemas[1], "SQLite vs PostgreSQL");
}

contract_test!(
    a_database_of_the_two_file_layout_is_up_to_date,
    |db: TestDb| async move {
        // Migrations 1–10 applied and recorded the way releases before the single-file
        // layout did it (same table, same rows), with data in it.
        let url = db.empty_database("released").await;
        let released = testing::migrations(db.backend);
        assert!(released.len() >= 10);
        {
            sqlx::any::install_default_drivers();
            let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(
                "CREATE TABLE IF NOT EXISTS steward_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
            )
            .execute(&mut raw)
            .await
            .unwrap();
            for (version, name, sql) in &released[..10] {
                // The released migrations' own text, not input.
                sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                    .execute(&mut raw)
                    .await
                    .unwrap();
                sqlx::query(
                    "INSERT INTO steward_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                )
                .bind(*version)
                .bind(*name)
                .bind(1_600_000_000_000 + version)
                .execute(&mut raw)
                .await
                .unwrap();
            }
            sqlx::raw_sql(
                "INSERT INTO users (id, username, password_hash, role, created_at) \
                 VALUES ('u1', 'alice', 'h', 'admin', 1)",
            )
            .execute(&mut raw)
            .await
            .unwrap();
            raw.close().await.unwrap();
        }
        let recorded = |url: String| async move {
            let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
            let rows: Vec<(i64, String, i64)> = sqlx::query_as(
                "SELECT version, name, applied_at FROM steward_migrations ORDER BY version",
            )
            .fetch_all(&mut raw)
            .await
            .unwrap();
            raw.close().await.unwrap();
            rows
        };
        let before = recorded(url.clone()).await;

        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.count_users().await.unwrap(), 1);
        store.close().await;
        let after = recorded(url.clone()).await;
        // Nothing of 1–10 ran again; only versions added since were applied.
        assert_eq!(after[..10], before[..]);
        assert_eq!(
            after.iter().map(|r| r.0).collect::<Vec<_>>(),
            released.iter().map(|m| m.0).collect::<Vec<_>>()
        );
        // And the schema is the one a new installation gets.
        assert_same_schema(
            &schema_of(db.backend, &url).await,
            &schema_of(db.backend, &db.url).await,
            "two-file layout vs new",
        );
    }
);
