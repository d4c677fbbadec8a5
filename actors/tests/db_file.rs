//! The SQLite database file and its journal are readable by their owner only: they hold
//! names, email addresses and password hashes.

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_and_its_journal_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("a directory");
    let db = kaizen_actors::db::Db::open_sqlite(dir.path())
        .await
        .expect("the database opens");
    sqlx::query("CREATE TABLE t (x BIGINT)")
        .execute(db.pool())
        .await
        .expect("a write");

    let mut checked = 0;
    for entry in std::fs::read_dir(dir.path()).expect("the directory") {
        let path = entry.expect("an entry").path();
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
        checked += 1;
    }
    assert!(
        checked >= 2,
        "the database and its write-ahead log were checked"
    );
}
