//! Fresh databases for tests: a SQLite file in a temporary directory, or a new PostgreSQL
//! database (created and dropped per test) when `STEWARD_TEST_PG_URL` is set. The one
//! implementation is the store's (`steward_store::testing`), which its contract tests use
//! too; `TestDb::postgres()` answers `None` when the variable is unset and fails the test when
//! it is set but PostgreSQL cannot be reached.

pub use steward_store::testing::TestDatabase as TestDb;
