//! The `qiye` binary's library: configuration, opening the store, running the
//! HTTP and metrics listeners with graceful shutdown, and the subcommands.
//! Integration tests drive the same functions the binary calls.

pub mod cli;
pub mod commands;
pub mod config;
pub mod serve;

use std::sync::Arc;

use anyhow::Context;
use qiye_app::Services;
use qiye_app::messaging::FanOutBus;
use qiye_domain::clock::{Clock, SystemClock};
use qiye_domain::ports::Store;
use qiye_http::callback::WecomCallbackWire;
use qiye_http::export::WecomExportWire;
use qiye_store::SqlStore;

pub use config::Config;

/// Opens the database the configuration names (creating the data
/// directory for the embedded default) and applies migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if config.database_url.is_empty() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
    }
    let url = config.effective_database_url();
    let store = SqlStore::open(&url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", config::redact_url(&url)))?;
    Ok(Arc::new(store))
}

/// Builds the use-case layer over a store, on the system clock.
pub fn services(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Arc<Services>> {
    services_with_clock(config, store, Arc::new(SystemClock))
}

/// Builds the use-case layer of a server, on the system clock, with the
/// fan-out to other nodes when there is one (`qiye serve --nats-url`).
pub fn services_with_bus(
    config: &Config,
    store: Arc<dyn Store>,
    bus: Option<Arc<dyn FanOutBus>>,
) -> anyhow::Result<Arc<Services>> {
    let services = build_services(config, store, Arc::new(SystemClock))?;
    Ok(Arc::new(match bus {
        Some(bus) => services.with_fan_out_bus(bus),
        None => services,
    }))
}

/// Builds the use-case layer over a store and a given clock (tests move
/// time), with callbacks sent the way WeCom sends them: the server needs
/// the wire to deliver events, the CLI to verify a callback URL.
pub fn services_with_clock(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Services>> {
    Ok(Arc::new(build_services(config, store, clock)?))
}

fn build_services(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Services> {
    let mut services = Services::new(store, clock, config.services_config()?)
        .with_callback_wire(Arc::new(WecomCallbackWire::new()))
        .with_export_wire(Arc::new(WecomExportWire));
    // --- second channel for urgent messages (escalation) ---
    services = services.with_public_url(config.effective_public_url());
    if let Some(channel) = serve::second_channel(config)? {
        services = services.with_second_channel(channel);
    }
    Ok(services)
}
