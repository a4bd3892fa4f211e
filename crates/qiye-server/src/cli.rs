//! The command line: `qiye serve`, the operator commands (`corp`, `app`,
//! `member`, `admin`, `directory`), `audit tail`, `config example`, `errcodes`, `openapi`. Every
//! subcommand that touches the database finds it the same way (config file,
//! `QIYE_*`, flags).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Overrides;

/// qiye: a self-hosted, WeCom-compatible enterprise communication server.
#[derive(Debug, Parser)]
#[command(name = "qiye", version)]
pub struct Cli {
    /// Where the database is and how to find the configuration.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand shares.
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Configuration file (default: ./qiye.toml when it exists).
    #[arg(long, global = true, env = "QIYE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory for the embedded database [default: ./qiye-data].
    #[arg(long, global = true, env = "QIYE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://... to use PostgreSQL instead of the embedded SQLite.
    #[arg(long, global = true, env = "QIYE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage corps (tenants).
    #[command(subcommand)]
    Corp(CorpCommand),
    /// Manage a corp's self-built apps.
    #[command(subcommand)]
    App(AppCommand),
    /// Manage a corp's administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import and export a corp's directory (members and departments).
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Manage members' sign-in.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the table of errcodes qiye answers with (Markdown).
    Errcodes,
    /// Print the OpenAPI document of `/api/v1` (what the server serves at
    /// `/api/v1/openapi.json`; the web app's API types are generated from it).
    Openapi,
}

/// `qiye serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTP listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "QIYE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Prometheus metrics listen address [default: 127.0.0.1:9464].
    #[arg(long, env = "QIYE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Do not serve metrics.
    #[arg(long)]
    pub no_metrics: bool,
    /// Log format: text or json.
    #[arg(long, env = "QIYE_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// nats://host:4222 to share the load with other nodes on the same
    /// database [default: none, one node].
    #[arg(long, env = "QIYE_NATS_URL", hide_env_values = true)]
    pub nats_url: Option<String>,
}

/// `qiye corp ...`
#[derive(Debug, Subcommand)]
pub enum CorpCommand {
    /// Create a corp with its super administrator and contacts-sync secret.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Edition: basic, professional or flagship.
        #[arg(long, default_value = "basic")]
        plan: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List corps.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a corp to another plan (refused if it does not fit).
    SetPlan {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// basic, professional or flagship.
        #[arg(long)]
        plan: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Grant a corp its own API rate limits (per API), or clear them.
    SetLimits {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// Calls per minute for the whole corp.
        #[arg(long, requires = "corp_per_hour")]
        corp_per_minute: Option<u32>,
        /// Calls per hour for the whole corp.
        #[arg(long, requires = "corp_per_minute")]
        corp_per_hour: Option<u32>,
        /// Calls per minute for each app.
        #[arg(long, requires = "app_per_hour")]
        app_per_minute: Option<u32>,
        /// Calls per hour for each app.
        #[arg(long, requires = "app_per_minute")]
        app_per_hour: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace the contacts-sync secret (its tokens stop working).
    RotateSecret {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show, or change, when unread urgent messages are re-sent by e-mail
    /// and SMS. Options not given keep their value.
    Escalation {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// Seconds after sending before the first e-mail/SMS (60-86400).
        #[arg(long)]
        first_after: Option<u32>,
        /// Seconds between two e-mails/SMS (300-86400).
        #[arg(long)]
        repeat_every: Option<u32>,
        /// How many times at most (1-10).
        #[arg(long)]
        attempts: Option<u32>,
        /// Send e-mail: on or off.
        #[arg(long, value_parser = ["on", "off"])]
        email: Option<String>,
        /// Send SMS: on or off.
        #[arg(long, value_parser = ["on", "off"])]
        sms: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `qiye app ...`
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create a self-built app and print its agentid and secret.
    Create {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// App name (1-32 characters).
        #[arg(long)]
        name: String,
        /// Visible to the whole corp (default: visible to nobody until configured).
        #[arg(long)]
        all_visible: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List a corp's apps.
    List {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace an app's secret (its tokens stop working).
    RotateSecret {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// The app.
        #[arg(long)]
        agentid: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set where an app receives callbacks (after the URL passes the
    /// echostr handshake), or remove its callback settings.
    SetCallback {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// The app.
        #[arg(long)]
        agentid: i64,
        /// The receiver's http(s) URL.
        #[arg(long, required_unless_present = "remove")]
        url: Option<String>,
        /// Token for signatures (1-32 letters and digits).
        #[arg(long, required_unless_present = "remove")]
        token: Option<String>,
        /// EncodingAESKey (43 characters).
        #[arg(long, required_unless_present = "remove")]
        aes_key: Option<String>,
        /// Remove the callback settings instead (queued events are no longer sent).
        #[arg(long, conflicts_with_all = ["url", "token", "aes_key"])]
        remove: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set which part of the directory an app sees (its visible range).
    SetRange {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// The app.
        #[arg(long)]
        agentid: i64,
        /// The whole corp.
        #[arg(long, conflicts_with_all = ["depts", "users", "tags"], required_unless_present_any = ["depts", "users", "tags"])]
        all: bool,
        /// Department ids, each with its subtree (comma-separated).
        #[arg(long, value_delimiter = ',')]
        depts: Vec<i64>,
        /// Userids (comma-separated).
        #[arg(long, value_delimiter = ',')]
        users: Vec<String>,
        /// Tag ids (comma-separated).
        #[arg(long, value_delimiter = ',')]
        tags: Vec<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show an app's newest callback events and whether they were delivered.
    Deliveries {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// The app.
        #[arg(long)]
        agentid: i64,
        /// How many events (at most 1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `qiye admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make a member an administrator (replacing any role they had).
    Grant {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// The member.
        #[arg(long)]
        userid: String,
        /// Super administrator: manages the whole corp.
        #[arg(
            long = "super",
            conflicts_with = "scope",
            required_unless_present = "scope"
        )]
        super_admin: bool,
        /// Scoped administrator of these departments and their subtrees:
        /// `dept:ID` (comma-separated, or repeat the flag).
        #[arg(long, value_delimiter = ',', value_name = "dept:ID")]
        scope: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a member's administrator role away.
    Revoke {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// The member.
        #[arg(long)]
        userid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a corp's administrators.
    List {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// How a member file is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportModeArg {
    /// Create and update the members in the file.
    Sync,
    /// Also delete members the file does not list (with delete protection).
    Replace,
}

/// A spreadsheet format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormatArg {
    /// UTF-8 CSV with a byte order mark.
    Csv,
    /// An Excel workbook.
    Xlsx,
}

/// The language of written header rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LanguageArg {
    /// WeCom's Chinese template headers.
    Zh,
    /// English headers named like the API fields.
    En,
}

/// `qiye directory ...`
#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Import members from a CSV or XLSX file in WeCom's member template.
    /// Bad rows are reported and skipped; the others are committed together.
    Import {
        /// The member file (.csv or .xlsx).
        file: PathBuf,
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// sync: create and update; replace: also delete unlisted members.
        #[arg(long, value_enum, default_value_t = ImportModeArg::Sync)]
        mode: ImportModeArg,
        /// Only report what would change.
        #[arg(long)]
        dry_run: bool,
        /// Write the outcome of every row to this file (.csv or .xlsx).
        #[arg(long, value_name = "OUT")]
        report: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Replace the department tree with a department file's: listed
    /// departments are created or updated, unlisted ones deleted.
    ImportDepartments {
        /// The department file (.csv or .xlsx).
        file: PathBuf,
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// Only report what would change.
        #[arg(long)]
        dry_run: bool,
        /// Write the outcome of every row to this file (.csv or .xlsx).
        #[arg(long, value_name = "OUT")]
        report: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Hide a department (with its subtree) from every member but the
    /// audience, its own members and administrators over it.
    Hide {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// The department to hide.
        #[arg(long)]
        dept: i64,
        /// Who may still see it: `dept:ID`, `user:USERID`, `tag:ID`
        /// (comma-separated); empty: only insiders and administrators.
        #[arg(long, value_delimiter = ',', value_name = "KIND:ID")]
        visible_to: Vec<String>,
        /// Remove the department's rule instead.
        #[arg(long, conflicts_with = "visible_to")]
        remove: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restrict who may read a member field (others get it omitted).
    ProtectField {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// mobile, email, biz_mail, telephone, address, position or extattr:NAME.
        #[arg(long)]
        field: String,
        /// Who may read it: `role:admin`, `dept:ID`, `user:USERID`, `tag:ID`
        /// (comma-separated); empty: only the member themselves.
        #[arg(long, value_delimiter = ',', value_name = "KIND:ID")]
        readers: Vec<String>,
        /// Remove the field's rule instead.
        #[arg(long, conflicts_with = "readers")]
        remove: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the corp's visibility and field rules.
    Rules {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export every member as a member file that `import` reads back.
    Export {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// File format.
        #[arg(long, value_enum, default_value_t = FileFormatArg::Csv)]
        format: FileFormatArg,
        /// Output file, `-` for standard output [default: directory-<corpid>.<csv|xlsx>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Header language.
        #[arg(long, value_enum, default_value_t = LanguageArg::Zh)]
        lang: LanguageArg,
    },
}

/// `qiye member ...`
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Give a member a new one-time password (printed once); their sessions
    /// end and they must change it at sign-in.
    ResetPassword {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// The member.
        #[arg(long)]
        userid: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `qiye audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print a corp's newest audit records, oldest first.
    Tail {
        /// The corp.
        #[arg(long)]
        corpid: String,
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

/// `qiye config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented qiye.toml with every key and its default.
    Example,
}

impl Cli {
    /// The configuration overrides the flags give.
    pub fn overrides(&self) -> Overrides {
        let mut overrides = Overrides {
            data_dir: self.storage.data_dir.clone(),
            database_url: self.storage.database_url.clone(),
            ..Overrides::default()
        };
        if let Command::Serve(serve) = &self.command {
            overrides.listen = serve.listen;
            overrides.metrics_listen = serve.metrics_listen;
            overrides.metrics_enabled = serve.no_metrics.then_some(false);
            overrides.log_format.clone_from(&serve.log_format);
            overrides.nats_url.clone_from(&serve.nats_url);
        }
        overrides
    }
}
