//! Criterion: a batch of requests on the bare static route and on the
//! authenticated `/cgi-bin/agent/get`, same server, same concurrency.
//! Throughput is reported in requests per second (elements).

#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qiye_bench::{BenchServer, drive};

const CONNECTIONS: u64 = 32;
const BATCH: u64 = 6_400;

fn auth_read(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(BenchServer::start()).expect("server");
    let mut group = c.benchmark_group("cgi_read_vs_bare");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.bench_function("bare_healthz", |b| {
        b.to_async(&runtime).iter(|| async {
            drive(server.addr, server.bare_path, CONNECTIONS, BATCH)
                .await
                .expect("load")
        });
    });
    group.bench_function("authenticated_agent_get", |b| {
        b.to_async(&runtime).iter(|| async {
            drive(server.addr, &server.auth_read_path, CONNECTIONS, BATCH)
                .await
                .expect("load")
        });
    });
    group.finish();
}

criterion_group!(benches, auth_read);
criterion_main!(benches);
