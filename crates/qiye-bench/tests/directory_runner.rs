//! The directory runner's steps on a small generated directory, on SQLite
//! and (with `QIYE_TEST_PG_URL`) PostgreSQL: the generated file imports
//! without a failing row, and `user/simplelist` over the served directory
//! returns every member. No timing is asserted.

use qiye_bench::directory::generate::DirectoryShape;
use qiye_bench::directory::{
    BenchDatabase, create_bench_corp, import_member_file, measure_simplelist, member_count,
};
use qiye_store::testing::pg_url_from_env;

const SMALL: DirectoryShape = DirectoryShape {
    top: 2,
    middle: 3,
    teams: 5,
    members: 300,
};

async fn import_then_list(pg: Option<&str>) {
    let db = BenchDatabase::create(pg).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("members.csv");
    std::fs::write(
        &file,
        qiye_bench::directory::generate::member_file(&SMALL, 3).unwrap(),
    )
    .unwrap();
    let services = db.services().await.unwrap();
    let corp = create_bench_corp(&services).await.unwrap();
    let run = import_member_file(&services, &corp, &file).await.unwrap();
    assert_eq!(run.rows, SMALL.members);
    assert_eq!(run.report.created_departments.len(), SMALL.departments());
    // The import's members and the corp's super administrator.
    let members = member_count(&services, &corp).await.unwrap();
    assert_eq!(members, SMALL.members + 1);
    drop(services);
    let listed = measure_simplelist(&db.config, &corp, 2, 4).await.unwrap();
    assert_eq!(listed.members, members);
    assert_eq!(listed.load.requests, 4);
    assert_eq!(listed.load.latencies.len(), 4);
    assert!(listed.after_load.rss_kib > 0);
    let page = &listed.member_page;
    assert!(page.hidden_departments > 0 && page.hidden_members > 0);
    assert!(page.page_members > 0);
    assert!(
        page.page_members <= members - page.hidden_members,
        "the viewer sees no hidden member"
    );
    assert_eq!(page.load.requests, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_directory_imports_and_lists_on_sqlite() {
    import_then_list(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_directory_imports_and_lists_on_postgres() {
    if let Some(url) = pg_url_from_env() {
        import_then_list(Some(&url)).await;
    }
}
