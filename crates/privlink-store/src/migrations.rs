//! Versioned schema migrations, shared by both backends (the SQL is portable: TEXT and BIGINT).
//! A migration is never edited once released; changes come as a new version.

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
    /// Run only on PostgreSQL (SQLite needs nothing, or lacks the syntax).
    pub postgres_only: bool,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "resources, ip allocations, work queue, operations",
        sql: r#"
CREATE TABLE resources (
    key            TEXT PRIMARY KEY,
    id             TEXT NOT NULL,
    type_key       TEXT NOT NULL,
    subscription   TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    parent_key     TEXT NOT NULL,
    body           TEXT NOT NULL,
    etag           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX resources_by_parent ON resources (parent_key, type_key, key);
CREATE INDEX resources_by_group ON resources (subscription, resource_group, type_key, key);
CREATE INDEX resources_by_subscription ON resources (subscription, type_key, key);
CREATE INDEX resources_by_type ON resources (type_key, key);

CREATE TABLE ip_free (
    pool       TEXT NOT NULL,
    range_from BIGINT NOT NULL,
    range_to   BIGINT NOT NULL,
    PRIMARY KEY (pool, range_from)
);

CREATE TABLE ip_allocations (
    pool      TEXT NOT NULL,
    ip_offset BIGINT NOT NULL,
    owner     TEXT NOT NULL,
    PRIMARY KEY (pool, ip_offset)
);
CREATE INDEX ip_allocations_by_owner ON ip_allocations (owner);

CREATE TABLE work_queue (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    resource_key  TEXT NOT NULL,
    operation_id  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    not_before    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL
);
CREATE INDEX work_queue_due ON work_queue (not_before, id);
CREATE INDEX work_queue_by_operation ON work_queue (operation_id);

CREATE TABLE operations (
    id            TEXT PRIMARY KEY,
    subscription  TEXT NOT NULL,
    resource_key  TEXT NOT NULL,
    kind          TEXT NOT NULL,
    status        TEXT NOT NULL,
    error         TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#,
        postgres_only: false,
    },
    Migration {
        version: 2,
        name: "work queue by resource",
        sql: "CREATE INDEX work_queue_by_resource ON work_queue (resource_key)",
        postgres_only: false,
    },
    Migration {
        version: 3,
        name: "byte-order collation for keys (prefix and range scans assume it)",
        sql: r#"
ALTER TABLE resources ALTER COLUMN key TYPE TEXT COLLATE "C";
ALTER TABLE resources ALTER COLUMN parent_key TYPE TEXT COLLATE "C";
ALTER TABLE ip_free ALTER COLUMN pool TYPE TEXT COLLATE "C";
ALTER TABLE ip_allocations ALTER COLUMN pool TYPE TEXT COLLATE "C";
ALTER TABLE ip_allocations ALTER COLUMN owner TYPE TEXT COLLATE "C";
"#,
        postgres_only: true,
    },
];

pub const CREATE_VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";
