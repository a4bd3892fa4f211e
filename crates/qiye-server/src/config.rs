//! Configuration: compiled defaults, then `qiye.toml`, then `QIYE_*`
//! environment variables, then command-line flags. Every key is documented
//! in [`FIELDS`], from which `qiye config example` prints a commented file
//! (a test checks that the two agree).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use qiye_app::{RateLimitDefaults, ServicesConfig};
use qiye_domain::rate::RateQuota;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the embedded database and other local state.
    pub data_dir: PathBuf,
    /// Address of the HTTP listener.
    pub listen: SocketAddr,
    /// `postgres://...` to run on PostgreSQL (or `sqlite://...`); empty: SQLite in `data_dir`.
    pub database_url: String,
    /// `nats://host:4222` to share the load with other nodes; empty: one node.
    pub nats_url: String,
    /// Address people use to reach the server (printed at first start).
    pub public_url: String,
    /// Serve Prometheus metrics.
    pub metrics_enabled: bool,
    /// Address of the metrics listener.
    pub metrics_listen: SocketAddr,
    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` overrides it.
    pub log_filter: String,
    /// `text` or `json`.
    pub log_format: String,
    /// How long a checked token is remembered in memory, in milliseconds.
    pub token_cache_ms: u64,
    /// Per corp, per API, per minute.
    pub rate_corp_per_minute: u32,
    /// Per corp, per API, per hour.
    pub rate_corp_per_hour: u32,
    /// Per app, per API, per minute.
    pub rate_app_per_minute: u32,
    /// Per app, per API, per hour.
    pub rate_app_per_hour: u32,
    /// Per client IP, per API, per minute.
    pub rate_ip_per_minute: u32,
    /// Per client IP, per API, per hour.
    pub rate_ip_per_hour: u32,
    // --- second channel for urgent messages (escalation) ---
    /// `[smtp]`: e-mail for unread urgent messages.
    pub smtp: SmtpConfig,
    /// `[sms]`: the SMS gateway for unread urgent messages.
    pub sms: SmsConfig,
}

impl Default for Config {
    fn default() -> Self {
        let wecom = RateLimitDefaults::default();
        Self {
            data_dir: PathBuf::from("./qiye-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: String::new(),
            nats_url: String::new(),
            public_url: String::new(),
            metrics_enabled: true,
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            log_filter: "info,sqlx=warn".into(),
            log_format: "text".into(),
            token_cache_ms: 1000,
            rate_corp_per_minute: wecom.corp_per_api.per_minute,
            rate_corp_per_hour: wecom.corp_per_api.per_hour,
            rate_app_per_minute: wecom.app_per_api.per_minute,
            rate_app_per_hour: wecom.app_per_api.per_hour,
            rate_ip_per_minute: wecom.ip_per_api.per_minute,
            rate_ip_per_hour: wecom.ip_per_api.per_hour,
            smtp: SmtpConfig::default(),
            sms: SmsConfig::default(),
        }
    }
}

// --- second channel for urgent messages (escalation) ---

/// `[smtp]`: where e-mail for unread urgent messages goes. An empty `host`
/// turns e-mail off.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// The relay's host name; empty: no e-mail.
    pub host: String,
    /// The relay's port; 0: the usual port for `security`.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub security: String,
    /// User for SMTP AUTH; empty: no AUTH.
    pub username: String,
    /// Password for SMTP AUTH (redacted in logs).
    pub password: String,
    /// The sender address.
    pub from: String,
    /// Seconds for connecting and for each SMTP command.
    pub timeout_secs: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 0,
            security: "starttls".into(),
            username: String::new(),
            password: String::new(),
            from: String::new(),
            timeout_secs: 10,
        }
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// `[sms]`: the HTTP gateway SMS for unread urgent messages go to. An
/// empty `url` turns SMS off.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// The gateway's URL; empty: no SMS.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`; empty: none (redacted in logs).
    pub bearer_token: String,
    /// Seconds one request may take.
    pub timeout_secs: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            bearer_token: String::new(),
            timeout_secs: 10,
        }
    }
}

impl fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsConfig")
            .field("url", &redact_url(&self.url))
            .field("bearer_token", &redacted(&self.bearer_token))
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// `""` stays empty (unset); anything else prints as `<redacted>`.
fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

/// The keys of `[smtp]` (also `QIYE_SMTP_<KEY>`), in example order.
pub const SMTP_FIELDS: &[FieldDoc] = &[
    FieldDoc {
        key: "host",
        doc: "SMTP relay for e-mailing unread urgent messages. Empty: no e-mail. Env: QIYE_SMTP_HOST (and QIYE_SMTP_<KEY> for each key here).",
    },
    FieldDoc {
        key: "port",
        doc: "Relay port; 0: the usual one for security (25, 587 or 465).",
    },
    FieldDoc {
        key: "security",
        doc: "none (plain, for a relay on loopback or a trusted network), starttls (required, never downgraded) or tls (implicit TLS).",
    },
    FieldDoc {
        key: "username",
        doc: "User for SMTP AUTH; empty: no AUTH.",
    },
    FieldDoc {
        key: "password",
        doc: "Password for SMTP AUTH (never logged).",
    },
    FieldDoc {
        key: "from",
        doc: "Sender of the notices: notice@example.com or \"qiye <notice@example.com>\". Required with a host.",
    },
    FieldDoc {
        key: "timeout_secs",
        doc: "Seconds for connecting and for each SMTP command.",
    },
];

/// The keys of `[sms]` (also `QIYE_SMS_<KEY>`), in example order.
pub const SMS_FIELDS: &[FieldDoc] = &[
    FieldDoc {
        key: "url",
        doc: "SMS gateway for unread urgent messages: POST {\"mobile\", \"text\"} as JSON, any 2xx is success. Empty: no SMS. Env: QIYE_SMS_URL.",
    },
    FieldDoc {
        key: "bearer_token",
        doc: "Sent as Authorization: Bearer <token>; empty: none (never logged).",
    },
    FieldDoc {
        key: "timeout_secs",
        doc: "Seconds one gateway request may take.",
    },
];

/// The `[section]` tables of the configuration with their keys.
pub const SECTIONS: &[(&str, &[FieldDoc])] = &[("smtp", SMTP_FIELDS), ("sms", SMS_FIELDS)];

impl Config {
    /// The SMTP settings, `None` when e-mail is off (empty host).
    pub fn smtp_settings(&self) -> anyhow::Result<Option<qiye_http::notify::SmtpSettings>> {
        let c = &self.smtp;
        if c.host.trim().is_empty() {
            return Ok(None);
        }
        let security: qiye_http::notify::SmtpSecurity = c
            .security
            .parse()
            .map_err(|e: String| anyhow::anyhow!("smtp.security: {e}"))?;
        anyhow::ensure!(
            !c.from.trim().is_empty(),
            "smtp.from is required when smtp.host is set"
        );
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(Some(qiye_http::notify::SmtpSettings {
            host: c.host.trim().to_owned(),
            port: if c.port == 0 {
                security.default_port()
            } else {
                c.port
            },
            security,
            username: nonempty(&c.username),
            password: nonempty(&c.password),
            from: c.from.clone(),
            timeout_secs: c.timeout_secs,
        }))
    }

    /// The SMS gateway settings, `None` when SMS is off (empty URL).
    pub fn sms_settings(&self) -> Option<qiye_http::notify::SmsGatewaySettings> {
        let c = &self.sms;
        (!c.url.trim().is_empty()).then(|| qiye_http::notify::SmsGatewaySettings {
            url: c.url.trim().to_owned(),
            bearer_token: (!c.bearer_token.is_empty()).then(|| c.bearer_token.clone()),
            timeout_secs: c.timeout_secs,
        })
    }
}

/// One documented key: its name (also `QIYE_<NAME>` upper-cased) and what it does.
pub struct FieldDoc {
    /// Key in `qiye.toml`.
    pub key: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// Every key, in the order `qiye config example` prints them.
pub const FIELDS: &[FieldDoc] = &[
    FieldDoc {
        key: "data_dir",
        doc: "Directory for the embedded SQLite database (qiye.db) and other local state. Flag: --data-dir.",
    },
    FieldDoc {
        key: "listen",
        doc: "Address of the HTTP listener (API and web). Flag: --listen.",
    },
    FieldDoc {
        key: "database_url",
        doc: "Empty: SQLite in data_dir. postgres://user@host/db runs the same server on PostgreSQL. Flag: --database-url.",
    },
    FieldDoc {
        key: "nats_url",
        doc: "Empty: one node (in-process fan-out). nats://host:4222 lets several nodes on one PostgreSQL database share the load: a member connected to one node hears what is sent through another. Flag: --nats-url.",
    },
    FieldDoc {
        key: "public_url",
        doc: "Address people use to reach this server, printed at first start. Empty: http://<listen>/.",
    },
    FieldDoc {
        key: "metrics_enabled",
        doc: "Serve Prometheus metrics on metrics_listen. Flag: --no-metrics turns it off.",
    },
    FieldDoc {
        key: "metrics_listen",
        doc: "Address of the Prometheus metrics listener (GET /metrics). Flag: --metrics-listen.",
    },
    FieldDoc {
        key: "log_filter",
        doc: "Log filter in tracing EnvFilter syntax; RUST_LOG, when set, wins.",
    },
    FieldDoc {
        key: "log_format",
        doc: "Log format: text or json. Flag: --log-format.",
    },
    FieldDoc {
        key: "token_cache_ms",
        doc: "How long a checked access token is remembered in memory (ms). A secret rotated by another process takes effect within this time; 0 disables the cache.",
    },
    FieldDoc {
        key: "rate_corp_per_minute",
        doc: "Calls per corp, per API, per minute (WeCom: 10000). A corp can be granted more: qiye corp set-limits.",
    },
    FieldDoc {
        key: "rate_corp_per_hour",
        doc: "Calls per corp, per API, per hour (WeCom: 150000).",
    },
    FieldDoc {
        key: "rate_app_per_minute",
        doc: "Calls per app, per API, per minute (WeCom publishes none; default: the corp limit).",
    },
    FieldDoc {
        key: "rate_app_per_hour",
        doc: "Calls per app, per API, per hour.",
    },
    FieldDoc {
        key: "rate_ip_per_minute",
        doc: "Calls per client IP, per API, per minute (WeCom: 20000).",
    },
    FieldDoc {
        key: "rate_ip_per_hour",
        doc: "Calls per client IP, per API, per hour (WeCom: 600000).",
    },
];

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("nats_url", &redact_url(&self.nats_url))
            .field("metrics_enabled", &self.metrics_enabled)
            .field("metrics_listen", &self.metrics_listen)
            .field("smtp", &self.smtp)
            .field("sms", &self.sms)
            .finish_non_exhaustive()
    }
}

/// A database URL with its password replaced by `***`, whether it is in the
/// user-info part (which ends at the last `@` before the path) or in a
/// `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (main, query) = match url.split_once('?') {
        Some((main, query)) => (main, Some(query)),
        None => (url, None),
    };
    let rest = &main[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let mut out = match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _password)) => format!("{}{user}:***{}", &main[..scheme_end], &rest[at..]),
            None => main.to_owned(),
        },
        None => main.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Values given on the command line (only those given override).
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--nats-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
    /// `--metrics-listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// `--no-metrics`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_enabled: Option<bool>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
}

impl Config {
    /// Loads the configuration: defaults, the TOML file (`file`, or
    /// `./qiye.toml` when it exists), `QIYE_*` variables, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "config file {} does not exist",
                    path.display()
                );
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new("qiye.toml").exists() => {
                figment = figment.merge(Toml::file_exact("qiye.toml"))
            }
            None => {}
        }
        let keys: Vec<&str> = FIELDS.iter().map(|f| f.key).collect();
        figment = figment.merge(Env::prefixed("QIYE_").only(&keys));
        // --- second channel: QIYE_SMTP_<KEY>, QIYE_SMS_<KEY> ---
        for (section, fields) in SECTIONS {
            let keys: Vec<&str> = fields.iter().map(|f| f.key).collect();
            let prefix = format!("QIYE_{}_", section.to_ascii_uppercase());
            figment = figment.merge(
                Env::prefixed(&prefix)
                    .only(&keys)
                    .map(move |k| format!("{section}.{k}").into()),
            );
        }
        figment = figment.merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().context("invalid configuration")?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            matches!(self.log_format.as_str(), "text" | "json"),
            "log_format must be text or json"
        );
        self.rate_limits()?;
        self.smtp_settings()?;
        if !self.database_url.is_empty() {
            qiye_store::Dialect::of_url(&self.database_url)
                .map_err(|e| anyhow::anyhow!("database_url: {e}"))?;
        }
        if let Some(url) = self.nats() {
            anyhow::ensure!(
                url.starts_with("nats://"),
                "nats_url must start with nats:// (got {})",
                redact_url(url)
            );
        }
        Ok(())
    }

    /// The database URL in force: `database_url`, or SQLite in `data_dir`.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            qiye_store::sqlite_url(&self.data_dir.join("qiye.db"))
        } else {
            self.database_url.clone()
        }
    }

    /// The NATS server of the fan-out between nodes, if one is configured.
    pub fn nats(&self) -> Option<&str> {
        let url = self.nats_url.trim();
        (!url.is_empty()).then_some(url)
    }

    /// The address printed for people.
    pub fn effective_public_url(&self) -> String {
        if self.public_url.is_empty() {
            format!("http://{}/", self.listen)
        } else {
            self.public_url.clone()
        }
    }

    /// The default rate limits.
    pub fn rate_limits(&self) -> anyhow::Result<RateLimitDefaults> {
        let quota = |m, h, what: &str| {
            RateQuota::new(m, h).with_context(|| format!("rate_{what}_per_minute/hour"))
        };
        Ok(RateLimitDefaults {
            corp_per_api: quota(self.rate_corp_per_minute, self.rate_corp_per_hour, "corp")?,
            app_per_api: quota(self.rate_app_per_minute, self.rate_app_per_hour, "app")?,
            ip_per_api: quota(self.rate_ip_per_minute, self.rate_ip_per_hour, "ip")?,
        })
    }

    /// Settings of the use-case layer.
    pub fn services_config(&self) -> anyhow::Result<ServicesConfig> {
        Ok(ServicesConfig {
            rate_limits: self.rate_limits()?,
            token_cache_ttl: Duration::from_millis(self.token_cache_ms),
            media_dir: Some(self.data_dir.join("media")),
        })
    }

    /// The commented example printed by `qiye config example`.
    pub fn example() -> String {
        let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
        let mut out = String::from(
            "# qiye.toml: every key, with its default. Precedence: defaults, this file,\n\
             # QIYE_<KEY> environment variables (e.g. QIYE_LISTEN), command-line flags.\n",
        );
        for field in FIELDS {
            let value = defaults
                .get(field.key)
                .map_or_else(|| "\"\"".to_owned(), toml::Value::to_string);
            out.push_str(&format!("\n# {}\n{} = {}\n", field.doc, field.key, value));
        }
        for (section, fields) in SECTIONS {
            let table = defaults
                .get(*section)
                .and_then(toml::Value::as_table)
                .cloned()
                .unwrap_or_default();
            out.push_str(&format!("\n[{section}]\n"));
            for field in *fields {
                let value = table
                    .get(field.key)
                    .map_or_else(|| "\"\"".to_owned(), toml::Value::to_string);
                out.push_str(&format!("\n# {}\n{} = {}\n", field.doc, field.key, value));
            }
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment::Error.
mod tests {
    use super::*;

    #[test]
    fn example_documents_every_key_and_parses_to_the_defaults() {
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        let documented: Vec<&str> = FIELDS.iter().map(|f| f.key).collect();
        let mut flat = 0;
        for (key, value) in &defaults {
            if let Some(table) = value.as_table() {
                let (_, fields) = SECTIONS
                    .iter()
                    .find(|(name, _)| name == key)
                    .unwrap_or_else(|| panic!("[{key}] is not documented in SECTIONS"));
                let keys: Vec<&str> = fields.iter().map(|f| f.key).collect();
                let mut have: Vec<&str> = table.keys().map(String::as_str).collect();
                have.sort_unstable();
                let mut want = keys.clone();
                want.sort_unstable();
                assert_eq!(have, want, "[{key}] and its documentation differ");
                continue;
            }
            flat += 1;
            assert!(
                documented.contains(&key.as_str()),
                "{key} is not documented in FIELDS"
            );
        }
        assert_eq!(
            documented.len(),
            flat,
            "FIELDS documents a key Config does not have"
        );
        let parsed: Config = toml::from_str(&Config::example()).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                "listen = \"127.0.0.1:7000\"\ndata_dir = \"/from/file\"\ntoken_cache_ms = 5\n",
            )?;
            jail.set_env("QIYE_LISTEN", "127.0.0.1:7001");
            jail.set_env("QIYE_TEST_PG_URL", "ignored: not a config key");
            let overrides = Overrides {
                data_dir: Some("/from/flag".into()),
                ..Default::default()
            };
            let config = Config::load(Some(Path::new("custom.toml")), &overrides)
                .map_err(|e| e.to_string())?;
            assert_eq!(
                config.listen,
                "127.0.0.1:7001".parse().unwrap(),
                "env beats file"
            );
            assert_eq!(
                config.data_dir,
                PathBuf::from("/from/flag"),
                "flag beats file"
            );
            assert_eq!(config.token_cache_ms, 5, "file beats default");
            assert_eq!(
                config.metrics_listen,
                Config::default().metrics_listen,
                "default stays"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused_clearly() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "lisen = \"127.0.0.1:1\"\n")?;
            let err = Config::load(Some(Path::new("bad.toml")), &Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("lisen"), "{err:#}");
            jail.create_file("bad2.toml", "rate_ip_per_minute = 0\n")?;
            assert!(Config::load(Some(Path::new("bad2.toml")), &Overrides::default()).is_err());
            jail.create_file("bad3.toml", "database_url = \"mysql://x\"\n")?;
            assert!(Config::load(Some(Path::new("bad3.toml")), &Overrides::default()).is_err());
            jail.create_file("bad4.toml", "nats_url = \"http://nats:4222\"\n")?;
            let err =
                Config::load(Some(Path::new("bad4.toml")), &Overrides::default()).unwrap_err();
            assert!(format!("{err:#}").contains("nats://"), "{err:#}");
            Ok(())
        });
        assert!(
            Config::load(
                Some(Path::new("/nonexistent/qiye.toml")),
                &Overrides::default()
            )
            .is_err()
        );
    }

    #[test]
    fn nats_is_off_by_default_and_set_by_file_env_or_flag() {
        figment::Jail::expect_with(|jail| {
            let none = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(none.nats(), None);
            jail.create_file("n.toml", "nats_url = \"nats://file:4222\"\n")?;
            let file = Config::load(Some(Path::new("n.toml")), &Overrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(file.nats(), Some("nats://file:4222"));
            jail.set_env("QIYE_NATS_URL", "nats://env:4222");
            let env = Config::load(Some(Path::new("n.toml")), &Overrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(env.nats(), Some("nats://env:4222"));
            let flag = Overrides {
                nats_url: Some("nats://flag:4222".into()),
                ..Default::default()
            };
            let flagged =
                Config::load(Some(Path::new("n.toml")), &flag).map_err(|e| e.to_string())?;
            assert_eq!(flagged.nats(), Some("nats://flag:4222"));
            Ok(())
        });
    }

    #[test]
    fn smtp_and_sms_come_from_their_sections_and_env_and_stay_secret() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "mail.toml",
                "[smtp]\nhost = \"mail.example.com\"\nfrom = \"qiye@example.com\"\nusername = \"u\"\n\n[sms]\nurl = \"https://sms.example.com/send\"\n",
            )?;
            jail.set_env("QIYE_SMTP_PASSWORD", "hunter2");
            jail.set_env("QIYE_SMS_BEARER_TOKEN", "t0ken-secret");
            jail.set_env("QIYE_SMTP_SECURITY", "tls");
            let config = Config::load(Some(Path::new("mail.toml")), &Overrides::default())
                .map_err(|e| e.to_string())?;
            let smtp = config.smtp_settings().map_err(|e| e.to_string())?.unwrap();
            assert_eq!(smtp.host, "mail.example.com");
            assert_eq!(smtp.port, 465, "the usual port for tls");
            assert_eq!(smtp.password.as_deref(), Some("hunter2"));
            let sms = config.sms_settings().unwrap();
            assert_eq!(sms.bearer_token.as_deref(), Some("t0ken-secret"));
            let shown = format!("{config:?}");
            assert!(
                !shown.contains("hunter2") && !shown.contains("t0ken-secret"),
                "{shown}"
            );
            jail.create_file("nofrom.toml", "[smtp]\nhost = \"mail.example.com\"\n")?;
            assert!(Config::load(Some(Path::new("nofrom.toml")), &Overrides::default()).is_err());
            Ok(())
        });
        let off = Config::default();
        assert!(off.smtp_settings().unwrap().is_none());
        assert!(off.sms_settings().is_none());
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://qiye:s3cret@db:5432/qiye"),
            "postgres://qiye:***@db:5432/qiye"
        );
        assert_eq!(
            redact_url("postgres://qiye@db/qiye"),
            "postgres://qiye@db/qiye"
        );
        let config = Config {
            database_url: "postgres://u:hunter2@h/d".into(),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
