//! `qiye-bench`: the authenticated-read vs bare-route throughput ratio.
//!
//! Usage: `cargo run --release -p qiye-bench -- [CONNECTIONS] [REQUESTS] [ROUNDS] [TOKEN_CACHE_MS]`
//! (defaults 32, 200000, 3, 1000; a cache of 0 makes every request read the database). Rounds alternate bare and authenticated runs and
//! the best of each is reported.

use qiye_bench::{BenchServer, drive};

fn arg(n: usize, default: u64) -> anyhow::Result<u64> {
    std::env::args()
        .nth(n)
        .map_or(Ok(default), |s| s.parse().map_err(Into::into))
}

fn main() -> anyhow::Result<()> {
    let connections = arg(1, 32)?;
    let requests = arg(2, 200_000)?;
    let rounds = arg(3, 3)?;
    let cache_ms = arg(4, 1000)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = BenchServer::start_with_cache(cache_ms).await?;
        // Warm up both paths (connections, caches, allocator).
        drive(server.addr, server.bare_path, connections, requests / 10).await?;
        drive(server.addr, &server.auth_read_path, connections, requests / 10).await?;
        let (mut bare_best, mut auth_best) = (0f64, 0f64);
        for round in 1..=rounds {
            let bare = drive(server.addr, server.bare_path, connections, requests).await?;
            let auth = drive(server.addr, &server.auth_read_path, connections, requests).await?;
            println!(
                "round {round}: bare {:>9.0} req/s   authenticated agent/get {:>9.0} req/s",
                bare.throughput(),
                auth.throughput()
            );
            bare_best = bare_best.max(bare.throughput());
            auth_best = auth_best.max(auth.throughput());
        }
        println!(
            "best: bare {bare_best:.0} req/s, authenticated {auth_best:.0} req/s, ratio {:.1}% (target >= 60%), {connections} connections, token_cache_ms {cache_ms}",
            100.0 * auth_best / bare_best
        );
        Ok(())
    })
}
