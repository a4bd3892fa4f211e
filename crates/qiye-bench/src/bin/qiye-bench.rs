//! `qiye-bench`: benchmark runners that print their figures.
//!
//! - `qiye-bench [CONNECTIONS] [REQUESTS] [ROUNDS] [TOKEN_CACHE_MS]`: the
//!   authenticated-read vs bare-route throughput ratio (defaults 32, 200000,
//!   3, 1000; a cache of 0 makes every request read the database). Rounds
//!   alternate bare and authenticated runs and the best of each is reported.
//! - `qiye-bench directory [--pg URL] [--members N] [--requests N]
//!   [--connections N] [--seed N]`: the directory benchmarks of issue 3 on
//!   SQLite, or with `--pg` on a fresh database of that PostgreSQL server
//!   (dropped afterwards). Imports a generated member file (defaults 100000
//!   members in 5000 teams), then measures `user/simplelist` over the whole
//!   directory (defaults 200 requests over 4 connections) and the memory of
//!   a server holding it, in a child process (`directory-serve`) so that
//!   the memory figures are the server's alone.
//! - `qiye-bench messaging [--pg URL] [--pairs N] [--per-sender N]
//!   [--window N] [--group N] [--group-messages N] [--conversations N]`: the
//!   messaging benchmarks of issue 4 (X1/Y1 one-to-one, X2/Y2 a group, R
//!   resync) over WebSockets (defaults 50 pairs x 1000 messages, window 32,
//!   a group of 2000 with 100 messages, 1000 missed messages in 50
//!   conversations).
//! - `qiye-bench idle [--pg URL] [--connections N] [--per-member N]`: Z,
//!   idle authenticated WebSockets held through a heartbeat round, and the
//!   resident memory of the server (a child process, `idle-serve`) holding
//!   them (defaults: 100,000 or as many as the open-file limit allows, 10
//!   per member, the gateway's per-member cap).

use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use qiye_bench::directory::generate::{DirectoryShape, member_file};
use qiye_bench::directory::{
    BenchDatabase, SimplelistRun, create_bench_corp, import_member_file, measure_simplelist,
    member_count,
};
use qiye_bench::{BenchServer, bench_config, drive};
use qiye_domain::ids::CorpId;

fn arg(n: usize, default: u64) -> anyhow::Result<u64> {
    std::env::args()
        .nth(n)
        .map_or(Ok(default), |s| s.parse().map_err(Into::into))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("directory") => directory(&Flags::parse(&args[1..])?),
        Some("directory-serve") => directory_serve(&Flags::parse(&args[1..])?),
        Some("messaging") => messaging(&Flags::parse(&args[1..])?),
        Some("idle") => idle(&Flags::parse(&args[1..])?),
        Some("idle-serve") => idle_serve(&Flags::parse(&args[1..])?),
        _ => ratio(),
    }
}

/// `--name value` flags of the directory commands.
struct Flags(Vec<(String, String)>);

impl Flags {
    const KNOWN: [&'static str; 14] = [
        "--pg",
        "--members",
        "--requests",
        "--connections",
        "--seed",
        "--database-url",
        "--pairs",
        "--per-sender",
        "--window",
        "--group",
        "--group-messages",
        "--conversations",
        "--corpid",
        "--per-member",
    ];

    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut pairs = Vec::new();
        let mut rest = args.iter();
        while let Some(name) = rest.next() {
            anyhow::ensure!(
                Self::KNOWN.contains(&name.as_str()),
                "unknown flag {name}; known: {}",
                Self::KNOWN.join(", ")
            );
            let value = rest
                .next()
                .with_context(|| format!("{name} needs a value"))?;
            pairs.push((name.clone(), value.clone()));
        }
        Ok(Self(pairs))
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str, default: u64) -> anyhow::Result<u64> {
        self.text(name).map_or(Ok(default), |v| {
            v.parse()
                .with_context(|| format!("{name} must be a number, not '{v}'"))
        })
    }
}

/// Issue 3's directory targets: import, `user/simplelist`, memory.
fn directory(flags: &Flags) -> anyhow::Result<()> {
    let shape = DirectoryShape {
        members: usize::try_from(flags.number("--members", 100_000)?)?,
        ..DirectoryShape::ISSUE_3
    };
    let seed = flags.number("--seed", 3)?;
    let requests = flags.number("--requests", 200)?;
    let connections = flags.number("--connections", 4)?.max(1);
    runtime()?.block_on(async {
        let db = BenchDatabase::create(flags.text("--pg")).await?;
        let backend = db.backend();
        let work = tempfile::tempdir()?;
        let file = work.path().join("members.csv");
        let started = Instant::now();
        std::fs::write(&file, member_file(&shape, seed)?)?;
        println!(
            "[{backend}] generated {}: {} members in {} teams ({} departments), {:.1} MiB, seed {seed}, in {:.2} s",
            file.display(),
            shape.members,
            shape.leaf_teams(),
            shape.departments(),
            std::fs::metadata(&file)?.len() as f64 / (1024.0 * 1024.0),
            started.elapsed().as_secs_f64()
        );

        let services = db.services().await?;
        let corp = create_bench_corp(&services).await?;
        let run = import_member_file(&services, &corp, &file).await?;
        println!(
            "[{backend}] import: {} rows, {} departments created, in {:.2} s (parse {:.2} s): {:.0} rows/s (target >= 20000)",
            run.rows,
            run.report.created_departments.len(),
            run.elapsed.as_secs_f64(),
            run.parse.as_secs_f64(),
            run.rows_per_second()
        );
        let members = member_count(&services, &corp).await?;
        drop(services);

        // The server's figures come from a process that only served.
        let status = Command::new(std::env::current_exe()?)
            .args(["directory-serve", "--database-url", &db.url()])
            .args(["--corpid", corp.as_str()])
            .args(["--requests", &requests.to_string()])
            .args(["--connections", &connections.to_string()])
            .args(["--members", &members.to_string()])
            .status()
            .context("cannot start the serving process")?;
        anyhow::ensure!(status.success(), "the serving process failed: {status}");
        Ok(())
    })
}

/// The serving half of `directory`, in a process of its own.
fn directory_serve(flags: &Flags) -> anyhow::Result<()> {
    let url = flags
        .text("--database-url")
        .context("--database-url is required")?;
    let corp = CorpId::parse(flags.text("--corpid").context("--corpid is required")?)?;
    let expected = usize::try_from(flags.number("--members", 100_000)?)?;
    let requests = flags.number("--requests", 200)?;
    let connections = flags.number("--connections", 4)?.max(1);
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let unused = tempfile::tempdir()?;
    let config = qiye_server::Config {
        database_url: url.to_owned(),
        ..bench_config(unused.path())
    };
    let run = runtime()?.block_on(measure_simplelist(&config, &corp, connections, requests))?;
    anyhow::ensure!(
        run.members == expected,
        "simplelist returned {} members, expected {expected}",
        run.members
    );
    print_simplelist(backend, &run, connections);
    Ok(())
}

fn print_simplelist(backend: &str, run: &SimplelistRun, connections: u64) {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let load = &run.load;
    println!(
        "[{backend}] simplelist?department_id=1&fetch_child=1: {} members, reply {:.1} MiB ({:.1} MiB gzipped on the wire); first request (loads the directory) {:.0} ms",
        run.members,
        run.reply_bytes as f64 / (1024.0 * 1024.0),
        run.wire_bytes as f64 / (1024.0 * 1024.0),
        ms(run.first_request)
    );
    println!(
        "[{backend}] {} requests over {connections} connections: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({:.1} req/s; target p99 < 50 ms)",
        load.requests,
        ms(load.percentile(50.0)),
        ms(load.percentile(95.0)),
        ms(load.percentile(99.0)),
        ms(load.percentile(100.0)),
        load.throughput()
    );
    println!(
        "[{backend}] server memory: before loading the directory {}; holding it {}; after the requests {}",
        run.before_load, run.after_load, run.after_requests
    );
    let page = &run.member_page;
    println!(
        "[{backend}] member page {}: {} departments hidden ({} members), mobile protected; {} members on the page; {} requests: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 50 ms)",
        qiye_bench::directory::MEMBER_PAGE_PATH,
        page.hidden_departments,
        page.hidden_members,
        page.page_members,
        page.load.requests,
        ms(page.load.percentile(50.0)),
        ms(page.load.percentile(95.0)),
        ms(page.load.percentile(99.0)),
        ms(page.load.percentile(100.0)),
    );
}

/// The authenticated-read vs bare-route ratio (issue 2).
fn ratio() -> anyhow::Result<()> {
    let connections = arg(1, 32)?;
    let requests = arg(2, 200_000)?;
    let rounds = arg(3, 3)?;
    let cache_ms = arg(4, 1000)?;
    runtime()?.block_on(async {
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

/// Issue 4's messaging targets: X1/Y1 (one-to-one), X2/Y2 (a group), R
/// (resync after missed messages).
fn messaging(flags: &Flags) -> anyhow::Result<()> {
    use qiye_bench::messaging::{ChatBench, group, one_to_one, resync};
    let pairs = usize::try_from(flags.number("--pairs", 50)?)?;
    let per_sender = flags.number("--per-sender", 1000)?;
    let window = flags.number("--window", 32)?.max(1);
    let group_size = usize::try_from(flags.number("--group", 2000)?)?.max(2);
    let group_messages = flags.number("--group-messages", 100)?;
    let conversations = usize::try_from(flags.number("--conversations", 50)?)?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    runtime()?.block_on(async {
        let db = BenchDatabase::create(flags.text("--pg")).await?;
        let backend = db.backend();
        let members = (pairs * 2).max(group_size).max(conversations + 1);
        let started = Instant::now();
        let bench = ChatBench::start(&db, members).await?;
        println!("[{backend}] {members} members with sessions in {:.1} s", started.elapsed().as_secs_f64());

        let x1 = one_to_one(&bench, pairs, per_sender, window, None).await?;
        println!(
            "[{backend}] X1 one-to-one, {pairs} pairs x {per_sender} messages, window {window}: {} messages in {:.2} s: {:.0} msg/s sent, committed, acked and delivered (target >= 10000); latency p50 {:.1} ms p99 {:.1} ms",
            x1.messages, x1.elapsed.as_secs_f64(), x1.messages_per_sec(), ms(x1.percentile(50.0)), ms(x1.percentile(99.0))
        );
        let half = x1.messages_per_sec() / 2.0;
        let paced = (half * 5.0) as u64 / pairs as u64;
        eprintln!("[{backend}] Y1: {} messages per sender paced at {half:.0} msg/s in all", paced.max(10));
        let y1 = one_to_one(&bench, pairs, paced.max(10), window, Some(half)).await?;
        println!(
            "[{backend}] Y1 at half of X1 ({half:.0} msg/s, {} messages): send-to-receiver p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (targets p50 <= 10, p99 <= 50)",
            y1.messages, ms(y1.percentile(50.0)), ms(y1.percentile(99.0)), ms(y1.percentile(100.0))
        );

        eprintln!("[{backend}] X2: a group of {group_size}");
        let (x2, _) = group(&bench, group_messages, window, None).await?;
        println!(
            "[{backend}] X2 group of {group_size}, {} messages: {} deliveries in {:.2} s: {:.0} deliveries/s (target >= 100000)",
            x2.messages, x2.deliveries, x2.elapsed.as_secs_f64(), x2.deliveries_per_sec()
        );
        let half_rate = x2.messages_per_sec() / 2.0;
        let (y2, completion) = group(&bench, group_messages, window, Some(half_rate)).await?;
        let p = |v: &Vec<std::time::Duration>, q: f64| {
            v.get(((q / 100.0) * (v.len().saturating_sub(1)) as f64).round() as usize).copied().unwrap_or_default()
        };
        println!(
            "[{backend}] Y2 at half of X2 ({half_rate:.1} msg/s, {:.0} deliveries/s): until every member has a message p50 {:.1} ms, p99 {:.1} ms (target p99 <= 200); per delivery p99 {:.1} ms",
            half_rate * (group_size - 1) as f64, ms(p(&completion, 50.0)), ms(p(&completion, 99.0)), ms(y2.percentile(99.0))
        );

        eprintln!("[{backend}] R: 1000 missed messages in {conversations} conversations");
        let r = resync(&bench, conversations, 1000).await?;
        println!(
            "[{backend}] R resync: {} entries missed in {} conversations, synced in {:.1} ms with {} round trip (targets <= 500 ms, <= 3 round trips)",
            r.entries, r.conversations, ms(r.sync_time), r.round_trips
        );
        Ok(())
    })
}

/// Z: idle authenticated WebSockets and the server's memory holding them.
fn idle(flags: &Flags) -> anyhow::Result<()> {
    use qiye_bench::idle::{SOURCE_ADDRESSES, fd_budget, hold_idle};
    use qiye_bench::messaging::members_with_sessions;
    use std::io::BufRead;
    const TARGET: usize = 100_000;
    let per_member = usize::try_from(flags.number("--per-member", 10)?)?.max(1);
    let budget = fd_budget()?;
    let wanted = usize::try_from(flags.number("--connections", TARGET as u64)?)?;
    let connections = wanted.min(budget);
    if connections < wanted {
        println!(
            "open-file limit: {} connections per process at most (RLIMIT_NOFILE; raise it with `ulimit -n` where the hard limit allows); holding {connections} instead of {wanted}",
            budget
        );
    }
    let members = connections.div_ceil(per_member);
    runtime()?.block_on(async {
        let db = BenchDatabase::create(flags.text("--pg")).await?;
        let backend = db.backend();
        let services = db.services().await?;
        let corp = create_bench_corp(&services).await?;
        let started = Instant::now();
        let tokens: Vec<String> = members_with_sessions(&services, &corp, members)
            .await?
            .into_iter()
            .map(|(_, token)| token)
            .collect();
        println!("[{backend}] {members} members with sessions in {:.1} s", started.elapsed().as_secs_f64());
        drop(services);

        let mut child = Command::new(std::env::current_exe()?)
            .args(["idle-serve", "--database-url", &db.url()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("cannot start the serving process")?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().context("child stdout")?).read_line(&mut line)?;
        let addr: std::net::SocketAddr = line
            .trim()
            .strip_prefix("listening ")
            .with_context(|| format!("unexpected first line from the server: {line:?}"))?
            .parse()?;
        let pid = child.id();
        let run = hold_idle(addr, pid, &tokens[..members], per_member, std::time::Duration::from_secs(120))
            .await;
        drop(child.stdin.take());
        let _ = child.wait();
        let run = run?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        println!(
            "[{backend}] Z: {} idle WebSockets ({} members x {per_member}, from {SOURCE_ADDRESSES} loopback addresses) opened in {:.1} s; every one saw a heartbeat ping within {:.1} s; {} closed by the server",
            run.connections, run.members, run.opening.as_secs_f64(), ms(run.heartbeat_round) / 1000.0, run.closed
        );
        println!(
            "[{backend}] Z: server memory before {}; connected {}; after a heartbeat round {}",
            run.before, run.connected, run.after_heartbeat
        );
        println!(
            "[{backend}] Z: {:.1} KiB per idle connection; {TARGET} connections would take {:.0} MiB (target <= 2048 MiB){}",
            run.kib_per_connection(),
            run.projected_mib(TARGET),
            if run.connections < TARGET { " (projected from this run)" } else { "" }
        );
        Ok(())
    })
}

/// The serving half of `idle`: serves the database until stdin closes.
fn idle_serve(flags: &Flags) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let url = flags
        .text("--database-url")
        .context("--database-url is required")?;
    let unused = tempfile::tempdir()?;
    let config = qiye_server::Config {
        database_url: url.to_owned(),
        ..bench_config(unused.path())
    };
    let rt = runtime()?;
    let server = rt.block_on(async {
        let store = qiye_server::open_store(&config).await?;
        let services = qiye_server::services(&config, store)?;
        let server = qiye_server::serve::LocalServer::spawn(services).await?;
        let mut out = std::io::stdout();
        writeln!(out, "listening {}", server.addr)?;
        out.flush()?;
        anyhow::Ok(server)
    })?;
    // The parent closes stdin when it is done; the runtime keeps serving
    // on its worker threads meanwhile.
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(server);
    Ok(())
}
