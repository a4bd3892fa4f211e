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

/// PostgreSQL keeps no per-row foreign keys on memberships (the directory
/// writer keeps them whole); a membership that names no member or no
/// department is refused when the directory is loaded, not dropped.
#[tokio::test]
async fn directory_load_refuses_orphan_memberships() {
    use qiye_domain::ports::{DirectoryStore, StoreError};
    let Some(server) = pg_url_from_env() else {
        return;
    };
    for (userid, dept) in [("nobody", 1_i64), ("", 999)] {
        let db = TestDatabase::create(&server).await.unwrap();
        let store = SqlStore::open(&db.url).await.unwrap();
        let corp = qiye_store_conformance::seed_corp(&store).await;
        assert!(store.load_directory(&corp).await.is_ok());
        // An existing member (the seeded administrator) when `userid` is empty.
        let member: String = if userid.is_empty() {
            sqlx::query_scalar("SELECT userid FROM members WHERE corp_id = $1 LIMIT 1")
                .bind(corp.as_str())
                .fetch_one(store.pool())
                .await
                .unwrap()
        } else {
            userid.to_owned()
        };
        sqlx::query(
            "INSERT INTO member_departments (corp_id, userid, dept_id, sort_order, is_leader, position) \
             VALUES ($1, $2, $3, 0, 0, 9)",
        )
        .bind(corp.as_str())
        .bind(&member)
        .bind(dept)
        .execute(store.pool())
        .await
        .unwrap();
        match store.load_directory(&corp).await {
            Err(StoreError::Other(reason)) => assert!(reason.contains("membership"), "{reason}"),
            other => panic!("orphan {member}/{dept} loaded: {other:?}"),
        }
        store.close().await;
    }
}
