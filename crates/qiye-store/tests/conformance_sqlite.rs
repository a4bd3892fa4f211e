//! The storage conformance suite on SQLite, each story on a fresh database
//! file, plus the SQLite-specific guarantees (append-only audit log).

use std::sync::Arc;

use qiye_domain::ports::Store;
use qiye_store::SqlStore;

async fn fresh() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqlStore::open_sqlite_file(&dir.path().join("qiye.db"))
        .await
        .expect("open sqlite");
    (Arc::new(store), dir)
}

qiye_store_conformance::conformance_tests!(Some(fresh().await));

#[tokio::test]
async fn audit_log_refuses_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::open_sqlite_file(&dir.path().join("qiye.db"))
        .await
        .unwrap();
    qiye_store_conformance::seed_corp(&store).await;
    let update = sqlx::query("UPDATE audit_log SET result = 'tampered'")
        .execute(store.pool())
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM audit_log")
        .execute(store.pool())
        .await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn opens_in_wal_mode_and_reopens_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qiye.db");
    let store = SqlStore::open_sqlite_file(&path).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let corp = qiye_store_conformance::seed_corp(&store).await;
    store.close().await;
    let reopened = SqlStore::open_sqlite_file(&path).await.unwrap();
    assert_eq!(
        qiye_domain::ports::CorpStore::get_corp(&reopened, &corp)
            .await
            .unwrap()
            .name
            .as_str(),
        "Seed"
    );
}
