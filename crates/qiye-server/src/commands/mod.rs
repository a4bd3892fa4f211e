//! The subcommands other than `serve`: each opens the store the
//! configuration names, calls use cases as an operator (audited as
//! `cli:<os user>`), and prints text or JSON.

mod admin;
mod app;
mod audit;
mod corp;
mod directory;
mod member;
mod openapi;
mod rules;

use std::sync::Arc;

use anyhow::Context;
use qiye_app::Services;
use qiye_domain::audit::Actor;
use qiye_domain::ids::{AgentId, CorpId, UserId};

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::Config;

/// Runs the parsed command line.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(_) => crate::serve::run(config).await,
        Command::Config(ConfigCommand::Example) => {
            print!("{}", Config::example());
            Ok(())
        }
        Command::Errcodes => {
            print!("{}", qiye_wecom::ErrCode::markdown_table());
            Ok(())
        }
        Command::Openapi => {
            println!("{}", openapi::document()?);
            Ok(())
        }
        Command::Corp(command) => corp::run(command, &*operator_services(&config).await?).await,
        Command::App(command) => app::run(command, &*operator_services(&config).await?).await,
        Command::Admin(command) => admin::run(command, &*operator_services(&config).await?).await,
        Command::Directory(command) => {
            directory::run(command, &*operator_services(&config).await?).await
        }
        Command::Member(command) => member::run(command, &*operator_services(&config).await?).await,
        Command::Audit(command) => audit::run(command, &*operator_services(&config).await?).await,
    }
}

async fn operator_services(config: &Config) -> anyhow::Result<Arc<Services>> {
    let store = crate::open_store(config).await?;
    crate::services(config, store)
}

/// The audit actor of this command line: the operating-system user.
fn operator() -> Actor {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    Actor::Cli(user)
}

/// Parses a `--corpid` argument.
fn corp_arg(raw: &str) -> anyhow::Result<CorpId> {
    CorpId::parse(raw).with_context(|| format!("invalid --corpid '{raw}'"))
}

/// Parses an `--agentid` argument.
fn agent_arg(raw: i64) -> anyhow::Result<AgentId> {
    AgentId::new(raw).with_context(|| format!("invalid --agentid {raw}"))
}

/// Parses a `--userid` argument.
fn user_arg(raw: &str) -> anyhow::Result<UserId> {
    UserId::parse(raw).with_context(|| format!("invalid --userid '{raw}'"))
}

/// Prints a value as one line of JSON.
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
