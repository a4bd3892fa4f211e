//! Criterion: importing a generated member file of 10,000 members in 500
//! teams into an empty directory on SQLite, from reading the file to the
//! committed directory (the path of `qiye directory import`). Each sample
//! imports into a fresh database; creating it is not timed. Throughput is
//! in rows per second (elements). The full-size figures (100,000 members,
//! SQLite and PostgreSQL) come from `qiye-bench directory`.

#![allow(missing_docs)]

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qiye_bench::directory::generate::{DirectoryShape, member_file};
use qiye_bench::directory::{BenchDatabase, create_bench_corp, import_member_file};

const SHAPE: DirectoryShape = DirectoryShape {
    top: 5,
    middle: 5,
    teams: 20,
    members: 10_000,
};

fn directory_import(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let work = tempfile::tempdir().expect("temp dir");
    let file = work.path().join("members.csv");
    std::fs::write(&file, member_file(&SHAPE, 3).expect("member file")).expect("write file");
    let mut group = c.benchmark_group("directory_import");
    group.throughput(Throughput::Elements(SHAPE.members as u64));
    group.sample_size(10);
    group.bench_function("sqlite_10k_members", |b| {
        b.to_async(&runtime).iter_custom(|iterations| {
            let file = file.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let db = BenchDatabase::create(None).await.expect("database");
                    let services = db.services().await.expect("services");
                    let corp = create_bench_corp(&services).await.expect("corp");
                    let run = import_member_file(&services, &corp, &file)
                        .await
                        .expect("import");
                    total += run.elapsed;
                }
                total
            }
        });
    });
    group.finish();
}

criterion_group!(benches, directory_import);
criterion_main!(benches);
