//! Directory benchmarks (issue 3): importing a large member file, reading
//! the whole directory with `user/simplelist?fetch_child=1`, and the memory
//! of a server holding it.
//!
//! - [`BenchDatabase`] is a fresh database for one run: a SQLite file in a
//!   temporary directory, or a PostgreSQL database created on a server and
//!   dropped afterwards.
//! - [`import_member_file`] times what `qiye directory import FILE` does:
//!   read the file, parse it (`qiye-directory-file`), plan it in the import
//!   engine and commit it to the store.
//! - [`measure_simplelist`] starts a real server on a database that holds a
//!   directory and reports the latency of `user/simplelist` and the
//!   process's memory before loading the directory, after, and after the
//!   load. Run it in a process of its own (the runner does) so that the
//!   memory figures are the server's, not what the import left behind.

pub mod generate;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use qiye_app::Services;
use qiye_app::directory::DirCaller;
use qiye_app::directory::import::{ImportOptions, ImportReport, RowAction};
use qiye_directory_file::{FileFormat, read_members};
use qiye_domain::audit::Actor;
use qiye_domain::credential::CredentialKind;
use qiye_domain::ids::CorpId;
use qiye_domain::plan::Plan;
use qiye_server::Config;
use qiye_server::serve::LocalServer;
use qiye_store::testing::TestDatabase;

use crate::memory::ProcessMemory;
use crate::{LoadResult, bench_config, connect, drive, drive_as, get_ok, get_ok_as};

/// Where a run keeps its data; dropped (deleted) with the value.
enum Storage {
    Sqlite,
    /// Kept only to be dropped (which drops the database).
    Postgres {
        _database: TestDatabase,
    },
}

/// A fresh, empty database for one benchmark run.
pub struct BenchDatabase {
    /// The server configuration that opens it.
    pub config: Config,
    storage: Storage,
    _data: tempfile::TempDir,
}

impl BenchDatabase {
    /// A SQLite file in a new temporary directory, or with `pg_server` a new
    /// database on that PostgreSQL server (dropped when this is dropped).
    pub async fn create(pg_server: Option<&str>) -> anyhow::Result<Self> {
        let data = tempfile::tempdir()?;
        let mut config = bench_config(data.path());
        let storage = match pg_server {
            None => Storage::Sqlite,
            Some(url) => {
                let db = TestDatabase::create(url)
                    .await
                    .context("cannot create a benchmark database on PostgreSQL")?;
                config.database_url = db.url.clone();
                Storage::Postgres { _database: db }
            }
        };
        Ok(Self {
            config,
            storage,
            _data: data,
        })
    }

    /// `SQLite` or `PostgreSQL`, for reports.
    pub fn backend(&self) -> &'static str {
        match self.storage {
            Storage::Sqlite => "SQLite",
            Storage::Postgres { .. } => "PostgreSQL",
        }
    }

    /// The URL a server process opens it with.
    pub fn url(&self) -> String {
        self.config.effective_database_url()
    }

    /// The use-case layer over this database.
    pub async fn services(&self) -> anyhow::Result<std::sync::Arc<Services>> {
        let store = qiye_server::open_store(&self.config).await?;
        qiye_server::services(&self.config, store)
    }
}

/// A corp on the flagship plan (no member or depth limit), for the import.
pub async fn create_bench_corp(services: &Services) -> anyhow::Result<CorpId> {
    let created = services
        .create_corp("目录基准", Plan::Flagship, Actor::System)
        .await?;
    Ok(created.corp.id)
}

/// Members in `corp`'s directory (the import's plus the super
/// administrator every corp starts with).
pub async fn member_count(services: &Services, corp: &CorpId) -> anyhow::Result<usize> {
    let caller = DirCaller::operator(corp.clone(), Actor::System);
    Ok(services
        .dir_read(&caller, |view| view.dir.member_count())
        .await?)
}

/// One timed import.
#[derive(Debug, Clone)]
pub struct ImportRun {
    /// Data rows in the file.
    pub rows: usize,
    /// From reading the file to the committed directory.
    pub elapsed: Duration,
    /// Of which reading and parsing the file.
    pub parse: Duration,
    /// The engine's report.
    pub report: ImportReport,
}

impl ImportRun {
    /// Rows per second, end to end.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// Imports a member file into `corp` the way `qiye directory import FILE
/// --corpid C` does (sync mode), timing it from reading the file to the
/// committed directory. Fails when any row failed: a benchmark of rows that
/// were refused would measure the wrong thing.
pub async fn import_member_file(
    services: &Services,
    corp: &CorpId,
    file: &Path,
) -> anyhow::Result<ImportRun> {
    let started = Instant::now();
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = read_members(&bytes, FileFormat::sniff(&bytes))?;
    let parse = started.elapsed();
    let caller = DirCaller::operator(corp.clone(), Actor::Cli("bench".into()));
    let report = services
        .import_members(&caller, &rows, ImportOptions::default(), &|_| {})
        .await?;
    let elapsed = started.elapsed();
    if let Some(failure) = report
        .rows
        .iter()
        .find(|r| matches!(r.action, RowAction::Failed { .. }))
    {
        anyhow::bail!("the benchmark file has a failing row: {failure:?}");
    }
    anyhow::ensure!(report.committed, "the import was not committed");
    Ok(ImportRun {
        rows: rows.len(),
        elapsed,
        parse,
        report,
    })
}

/// What [`measure_simplelist`] found.
#[derive(Debug, Clone)]
pub struct SimplelistRun {
    /// Memory with the server up and the directory not loaded yet.
    pub before_load: ProcessMemory,
    /// Memory after the first request loaded the directory into the cache.
    pub after_load: ProcessMemory,
    /// Memory after the measured requests.
    pub after_requests: ProcessMemory,
    /// The first request, which loads the directory from the database.
    pub first_request: Duration,
    /// Members in the reply.
    pub members: usize,
    /// Size of one reply (decompressed).
    pub reply_bytes: usize,
    /// Size of one reply on the wire (gzip).
    pub wire_bytes: usize,
    /// The measured requests.
    pub load: LoadResult,
    /// The visibility-filtered member-facing page.
    pub member_page: MemberPageRun,
}

/// What the member-facing page measurement found.
#[derive(Debug, Clone)]
pub struct MemberPageRun {
    /// Departments hidden by visibility rules (each with its subtree).
    pub hidden_departments: usize,
    /// Members in those subtrees, invisible to the viewer.
    pub hidden_members: usize,
    /// Members on the first page the viewer got.
    pub page_members: usize,
    /// The measured requests.
    pub load: LoadResult,
}

/// The member page request: the first 100 members of the whole visible
/// tree.
pub const MEMBER_PAGE_PATH: &str =
    "/api/v1/directory/departments/1/members?fetch_child=1&limit=100";

/// Hides ten region departments (at most half of them) (each visible only to its own members),
/// protects `mobile` (readable only in the first of them), and signs in a
/// member outside all ten; returns their session token and the numbers
/// hidden.
async fn member_page_setup(
    services: &Services,
    corp: &CorpId,
) -> anyhow::Result<(String, usize, usize)> {
    use qiye_app::directory::admin::RuleEditor;
    use qiye_domain::directory::{ProtectedField, Range};
    use qiye_domain::ids::DeptId;

    let operator = DirCaller::operator(corp.clone(), Actor::System);
    let (hidden, hidden_members, viewer) = services
        .dir_read(&operator, |view| {
            let dir = view.dir;
            let grandparent = |d: DeptId| {
                dir.dept(d)
                    .and_then(|x| x.parent)
                    .and_then(|p| dir.dept(p))
                    .and_then(|p| p.parent)
            };
            let mut hidden: Vec<DeptId> = dir
                .all_depts()
                .into_iter()
                .filter(|d| grandparent(*d) == Some(DeptId::ROOT))
                .collect();
            // Ten regions (of 100 in the shape), at most half.
            hidden.truncate(10.min(hidden.len() / 2).max(1));
            let inside = |m: &qiye_domain::directory::Member| {
                m.departments
                    .iter()
                    .any(|ms| hidden.iter().any(|h| dir.is_within(ms.dept, *h)))
            };
            let hidden_members = dir.members().filter(|m| inside(m)).count();
            let viewer = dir
                .members()
                .find(|m| !inside(m) && m.userid.as_str() != "admin")
                .map(|m| m.userid.clone());
            (hidden, hidden_members, viewer)
        })
        .await?;
    let viewer = viewer.context("no member outside the hidden departments")?;
    let editor = RuleEditor::operator(corp.clone(), Actor::System);
    for dept in &hidden {
        let audience = Range {
            depts: vec![*dept],
            ..Range::default()
        };
        services
            .set_visibility_rule(&editor, *dept, Some(audience))
            .await?;
    }
    let readers = Range {
        depts: hidden[..1].to_vec(),
        ..Range::default()
    };
    services
        .set_field_rule(&editor, &ProtectedField::Mobile, Some((false, readers)))
        .await?;
    let one_time = services.reset_password(&operator, &viewer).await?;
    let sign_in = |password: String| {
        let corp = corp.as_str().to_owned();
        let login = viewer.as_str().to_owned();
        async move {
            services
                .sign_in(qiye_app::session::SignIn {
                    corpid: &corp,
                    login: &login,
                    password: &password,
                    ip: None,
                    user_agent: Some("qiye-bench"),
                })
                .await
        }
    };
    let first = sign_in(one_time.expose().to_owned()).await?;
    let session = services
        .authenticate_session(Some(first.token.expose()), None)
        .await?;
    let password = "bench-password-0123";
    services
        .change_password(&session, one_time.expose(), password)
        .await?;
    let signed_in = sign_in(password.to_owned()).await?;
    Ok((
        signed_in.token.expose().to_owned(),
        hidden.len(),
        hidden_members,
    ))
}

/// Measures the member page as a member outside the hidden departments.
async fn measure_member_page(
    services: &Services,
    addr: std::net::SocketAddr,
    corp: &CorpId,
    connections: u64,
    requests: u64,
) -> anyhow::Result<MemberPageRun> {
    let (token, hidden_departments, hidden_members) = member_page_setup(services, corp).await?;
    let mut sender = connect(addr).await?;
    let body = get_ok_as(&mut sender, MEMBER_PAGE_PATH, Some(&token)).await?;
    let page: serde_json::Value = serde_json::from_slice(&body)?;
    let page_members = page["members"]
        .as_array()
        .context("the page has no members")?
        .len();
    drop(sender);
    let load = drive_as(addr, MEMBER_PAGE_PATH, Some(&token), connections, requests).await?;
    Ok(MemberPageRun {
        hidden_departments,
        hidden_members,
        page_members,
        load,
    })
}

/// The path of the benchmarked request.
pub fn simplelist_path(token: &str) -> String {
    format!("/cgi-bin/user/simplelist?access_token={token}&department_id=1&fetch_child=1")
}

/// Starts a server in this process on `config`'s database, which holds
/// `corp`'s directory; gets a contacts-sync token (by rotating the corp's
/// contacts secret, which the import run does not hand over); then sends
/// `requests` `user/simplelist?department_id=1&fetch_child=1` requests over
/// `connections` keep-alive connections, after one request that loads the
/// directory.
pub async fn measure_simplelist(
    config: &Config,
    corp: &CorpId,
    connections: u64,
    requests: u64,
) -> anyhow::Result<SimplelistRun> {
    let store = qiye_server::open_store(config).await?;
    let services = qiye_server::services(config, store)?;
    let secret = services
        .rotate_secret(corp, CredentialKind::ContactSync, Actor::System)
        .await?;
    let token = services
        .get_token(
            Some(corp.as_str()),
            Some(secret.expose()),
            "127.0.0.1".parse()?,
        )
        .await?;
    let server = LocalServer::spawn(std::sync::Arc::clone(&services)).await?;
    let path = simplelist_path(token.token.as_str());
    let before_load = ProcessMemory::read()?;
    let mut sender = connect(server.addr).await?;
    let started = Instant::now();
    let body = get_ok(&mut sender, &path).await?;
    let first_request = started.elapsed();
    let after_load = ProcessMemory::read()?;
    let reply: serde_json::Value = serde_json::from_slice(&crate::decoded(&body)?)?;
    let members = reply["userlist"]
        .as_array()
        .context("the reply has no userlist")?
        .len();
    let wire_bytes = body.len();
    let reply_bytes = crate::decoded(&body)?.len();
    drop((sender, body, reply));
    let load = drive(server.addr, &path, connections, requests).await?;
    let after_requests = ProcessMemory::read()?;
    let member_page =
        measure_member_page(&services, server.addr, corp, connections, requests).await?;
    Ok(SimplelistRun {
        before_load,
        after_load,
        after_requests,
        first_request,
        members,
        reply_bytes,
        wire_bytes,
        load,
        member_page,
    })
}
