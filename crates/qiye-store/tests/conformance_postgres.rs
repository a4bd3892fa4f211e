//! The storage conformance suite on PostgreSQL, each story in a fresh
//! database. Runs when `QIYE_TEST_PG_URL` is set (always in CI); without it,
//! outside CI, each test prints that it did not run and returns.

use std::sync::Arc;

use qiye_domain::ports::Store;
use qiye_store::SqlStore;
use qiye_store::testing::{TestDatabase, pg_url_from_env};

async fn fresh() -> Option<(Arc<dyn Store>, TestDatabase)> {
    let Some(server) = pg_url_from_env() else {
        eprintln!("QIYE_TEST_PG_URL not set (and not CI): PostgreSQL story not run");
        return None;
    };
    let db = TestDatabase::create(&server)
        .await
        .expect("create test database");
    let store = SqlStore::open(&db.url).await.expect("open postgres");
    Some((Arc::new(store), db))
}

qiye_store_conformance::conformance_tests!(fresh().await);

#[tokio::test]
async fn audit_log_refuses_update_delete_and_truncate() {
    let Some(server) = pg_url_from_env() else {
        return;
    };
    let db = TestDatabase::create(&server).await.unwrap();
    let store = SqlStore::open(&db.url).await.unwrap();
    qiye_store_conformance::seed_corp(&store).await;
    for statement in [
        "UPDATE audit_log SET result = 'tampered'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(statement)
            .execute(store.pool())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
    store.close().await;
}
