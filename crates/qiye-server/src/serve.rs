//! `qiye serve`: the HTTP listener, the metrics listener, background
//! housekeeping, callback delivery, directory jobs, urgent escalations and
//! approval timers, the first-start bootstrap and graceful shutdown.
//!
//! [`LocalServer`] (tests, benchmarks) does not run the escalation and
//! approval timer loops: tests drive them with
//! `Services::run_escalations_once` and `Services::run_approval_timers_once`
//! on their clock.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use qiye_app::Services;
use qiye_app::messaging::FanOutBus;
use qiye_domain::audit::Actor;
use qiye_domain::plan::Plan;
use qiye_http::bus::{NatsBus, SUBJECT};
use qiye_http::metrics::{Metrics, metrics_router};
use qiye_http::{AppState, router};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;

/// How often background housekeeping runs.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

/// How long callback delivery waits, when a round delivered nothing, before
/// it looks for due events again.
const CALLBACK_DELIVERY_IDLE: Duration = Duration::from_millis(500);

/// How often the job runner looks for jobs submitted on other nodes (or
/// whose runner died); jobs submitted on this node start at once.
const JOB_POLL_IDLE: Duration = Duration::from_secs(2);

/// How often the escalation worker looks for unread urgent messages due
/// for another notice.
const ESCALATION_POLL_IDLE: Duration = Duration::from_secs(5);

/// How often the approval timer worker looks for due timers (timers have a
/// resolution of one second).
const APPROVAL_TIMER_POLL_IDLE: Duration = Duration::from_secs(1);

/// How long shutdown waits for open requests to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long shutdown waits for a callback delivery round or a job in
/// progress. What it interrupts is picked up again once its lease runs out.
const DELIVERY_STOP_GRACE: Duration = Duration::from_secs(10);

/// Name of the corp created at first start.
pub const DEFAULT_CORP_NAME: &str = "My Company";

/// Serves `router` on `listener` until `shutdown` resolves, then drains.
pub async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A server running on a task of the current runtime, on a loopback port,
/// with callback delivery on another task, until this handle is dropped
/// (tests and benchmarks).
#[derive(Debug)]
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stop_workers: watch::Sender<bool>,
}

impl LocalServer {
    /// Serves `services` on `127.0.0.1:<free port>`, delivers their
    /// callback events and runs their jobs.
    pub async fn spawn(services: Arc<Services>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop_workers, workers_stopped) = watch::channel(false);
        tokio::spawn(callback_delivery_loop(
            Arc::clone(&services),
            workers_stopped.clone(),
        ));
        tokio::spawn(job_loop(Arc::clone(&services), workers_stopped));
        let state = AppState {
            services,
            metrics: Arc::new(Metrics::default()),
            gateway: Arc::default(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_http(listener, router(state), async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            stop_workers,
        })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.stop_workers.send(true);
    }
}

/// Runs housekeeping every [`HOUSEKEEPING_EVERY`] until told to stop.
pub async fn housekeeping_loop(services: Arc<Services>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => match services.housekeeping().await {
                Ok(pruned) if pruned > 0 => tracing::info!(pruned, "pruned expired access tokens"),
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "housekeeping failed"),
            },
            _ = stop.changed() => return,
        }
    }
}

/// Delivers queued callback events until told to stop: at once after a
/// round that delivered something, else every [`CALLBACK_DELIVERY_IDLE`].
pub async fn callback_delivery_loop(services: Arc<Services>, stop: watch::Receiver<bool>) {
    services
        .run_callback_delivery(CALLBACK_DELIVERY_IDLE, stop)
        .await;
}

/// Runs directory jobs (imports, exports) until told to stop.
pub async fn job_loop(services: Arc<Services>, stop: watch::Receiver<bool>) {
    services.run_jobs(JOB_POLL_IDLE, stop).await;
}

// --- second channel for urgent messages (escalation) ---

/// The e-mail and SMS adapter the configuration asks for (`[smtp]`,
/// `[sms]`), or `None` when both are off. Must run inside a Tokio runtime.
pub fn second_channel(
    config: &Config,
) -> anyhow::Result<Option<Arc<dyn qiye_app::notify::SecondChannel>>> {
    let smtp = config.smtp_settings()?;
    let sms = config.sms_settings();
    if smtp.is_none() && sms.is_none() {
        return Ok(None);
    }
    let adapter = qiye_http::notify::ChannelAdapter::new(smtp, sms)
        .context("cannot set up the second channel (smtp, sms)")?;
    tracing::info!(
        ?adapter,
        "urgent messages escalate through the second channel"
    );
    Ok(Some(Arc::new(adapter)))
}

/// Escalates unread urgent messages (e-mail, SMS) until told to stop.
pub async fn escalation_loop(services: Arc<Services>, stop: watch::Receiver<bool>) {
    services.run_escalations(ESCALATION_POLL_IDLE, stop).await;
}

/// Fires approval timers (reminders, deadlines) until told to stop.
pub async fn approval_timer_loop(services: Arc<Services>, stop: watch::Receiver<bool>) {
    services
        .run_approval_timers(APPROVAL_TIMER_POLL_IDLE, stop)
        .await;
}

/// Waits up to `grace` for a background task to finish, then aborts it.
async fn stop_within(
    mut task: tokio::task::JoinHandle<()>,
    grace: Duration,
    what: &str,
) -> anyhow::Result<()> {
    let joined = match tokio::time::timeout(grace, &mut task).await {
        Ok(joined) => joined,
        Err(_) => {
            tracing::warn!(
                "{what} still busy after {}s; stopping it (its interrupted work is picked up again later)",
                grace.as_secs()
            );
            task.abort();
            task.await
        }
    };
    match joined {
        Err(err) if !err.is_cancelled() => Err(err).context(what.to_owned()),
        _ => Ok(()),
    }
}

/// Creates the default corp on an empty database and prints its credentials once.
pub async fn bootstrap_if_empty(config: &Config, services: &Services) -> anyhow::Result<()> {
    let created = services
        .create_first_corp(DEFAULT_CORP_NAME, Plan::Flagship, Actor::System)
        .await
        .map_err(|e| anyhow::anyhow!("could not create the first corp: {e}"))?;
    let Some(created) = created else {
        let n = services.list_corps().await?.len();
        println!("qiye: {n} corp(s) in the database; `qiye corp list` shows them.");
        return Ok(());
    };
    let web = config.effective_public_url();
    println!(
        "qiye: first start, created corp \"{name}\" (plan {plan}). These are shown only once:\n\
         \n  corpid           {corpid}\n  contacts secret  {secret}\n  admin userid     {admin}\n  admin password   {password}   (one-time: change it at first sign-in)\n  web address      {web}\n\
         \nOpen {web} in a browser and sign in to corp {corpid} as {admin} with the one-time password {password}\n(you choose your own password right after).\n\
         \nTry the API:\n  curl '{web}cgi-bin/gettoken?corpid={corpid}&corpsecret={secret}'\n  curl -X POST '{web}api/v1/session' -d '{{\"corpid\":\"{corpid}\",\"login\":\"{admin}\",\"password\":\"{password}\"}}'\n",
        name = created.corp.name.as_str(),
        plan = created.corp.plan,
        corpid = created.corp.id,
        secret = created.contact_secret.expose(),
        admin = created.admin_userid,
        password = created.admin_password.expose(),
    );
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// `qiye serve`.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = crate::open_store(&config).await?;
    let bus = match config.nats() {
        Some(url) => {
            let node = NatsBus::random_node_id();
            let bus = NatsBus::connect(url, &node)
                .await
                .map_err(|e| anyhow::anyhow!("{e} (nats_url, --nats-url)"))?;
            Some(bus)
        }
        None => None,
    };
    let services =
        crate::services_with_bus(&config, store, bus.clone().map(|b| b as Arc<dyn FanOutBus>))?;
    let subscriber = match &bus {
        Some(bus) => Some(
            bus.subscribe(Arc::clone(&services))
                .await
                .context("NATS fan-out")?,
        ),
        None => None,
    };
    bootstrap_if_empty(&config, &services).await?;

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let metrics = Arc::new(Metrics::default());
    let state = AppState {
        services: Arc::clone(&services),
        metrics: Arc::clone(&metrics),
        gateway: Arc::default(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);

    let metrics_task = if config.metrics_enabled {
        let metrics_listener = TcpListener::bind(config.metrics_listen)
            .await
            .with_context(|| format!("cannot listen for metrics on {}", config.metrics_listen))?;
        println!("qiye: metrics on http://{}/metrics", config.metrics_listen);
        let mut stop = stop_rx.clone();
        Some(tokio::spawn(serve_http(
            metrics_listener,
            metrics_router(metrics),
            async move {
                let _ = stop.changed().await;
            },
        )))
    } else {
        None
    };
    let housekeeping = tokio::spawn(housekeeping_loop(Arc::clone(&services), stop_rx.clone()));
    let delivery = tokio::spawn(callback_delivery_loop(
        Arc::clone(&services),
        stop_rx.clone(),
    ));
    let jobs = tokio::spawn(job_loop(Arc::clone(&services), stop_rx.clone()));
    // --- second channel for urgent messages (escalation) ---
    let escalations = tokio::spawn(escalation_loop(Arc::clone(&services), stop_rx.clone()));
    let approval_timers = tokio::spawn(approval_timer_loop(Arc::clone(&services), stop_rx.clone()));

    if let (Some(url), Some(bus)) = (config.nats(), &bus) {
        println!(
            "qiye: fan-out: NATS {} (subject {SUBJECT}, node {})",
            crate::config::redact_url(url),
            bus.node_id()
        );
    }
    println!(
        "qiye: serving {} on {} (database: {})",
        config.effective_public_url(),
        config.listen,
        services.store().backend()
    );
    let mut stop = stop_rx;
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    let server = tokio::spawn(serve_http(listener, router(state), shutdown));
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(joined) => joined.context("server task")?.context("server")?,
        Err(_) => tracing::warn!(
            "requests still open after {}s; stopping without them",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    if let Some(task) = metrics_task {
        task.await
            .context("metrics task")?
            .context("metrics server")?;
    }
    housekeeping.await.context("housekeeping task")?;
    stop_within(delivery, DELIVERY_STOP_GRACE, "callback delivery").await?;
    stop_within(jobs, DELIVERY_STOP_GRACE, "directory jobs").await?;
    stop_within(escalations, DELIVERY_STOP_GRACE, "urgent escalations").await?;
    stop_within(approval_timers, DELIVERY_STOP_GRACE, "approval timers").await?;
    if let Some(task) = subscriber {
        task.abort();
    }
    services.store().close().await;
    println!("qiye: stopped");
    Ok(())
}
