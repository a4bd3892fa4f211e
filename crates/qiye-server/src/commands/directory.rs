//! `qiye directory ...`: bulk import of member and department files, and
//! export of the members as a file that import reads back.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qiye_app::Services;
use qiye_app::directory::DirCaller;
use qiye_app::directory::import::{ImportMode, ImportOptions, ImportReport, RowAction};
use qiye_directory_file::{
    FileFormat, HeaderLanguage, RowReport, read_departments, read_members, write_report,
};
use qiye_domain::ids::CorpId;
use serde_json::json;

use super::{corp_arg, operator, print_json};
use crate::cli::{DirectoryCommand, FileFormatArg, ImportModeArg, LanguageArg};

pub(super) async fn run(command: DirectoryCommand, services: &Services) -> anyhow::Result<()> {
    match command {
        command @ (DirectoryCommand::Hide { .. }
        | DirectoryCommand::ProtectField { .. }
        | DirectoryCommand::Rules { .. }) => super::rules::run(command, services).await,
        DirectoryCommand::Import {
            file,
            corpid,
            mode,
            dry_run,
            report,
            json,
        } => {
            let mode = match mode {
                ImportModeArg::Sync => ImportMode::Sync,
                ImportModeArg::Replace => ImportMode::Replace,
            };
            let job = Job {
                file: &file,
                corp: corp_arg(&corpid)?,
                dry_run,
                report: report.as_deref(),
                json,
            };
            import_members(services, &job, mode).await
        }
        DirectoryCommand::ImportDepartments {
            file,
            corpid,
            dry_run,
            report,
            json,
        } => {
            let job = Job {
                file: &file,
                corp: corp_arg(&corpid)?,
                dry_run,
                report: report.as_deref(),
                json,
            };
            import_departments(services, &job).await
        }
        DirectoryCommand::Export {
            corpid,
            format,
            out,
            lang,
        } => export(services, &corp_arg(&corpid)?, format, out, lang).await,
    }
}

/// What an import command was asked to do.
struct Job<'a> {
    file: &'a Path,
    corp: CorpId,
    dry_run: bool,
    report: Option<&'a Path>,
    json: bool,
}

/// The file's bytes and format: by extension, else by its first bytes.
fn read_file(path: &Path) -> anyhow::Result<(Vec<u8>, FileFormat)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let format = path
        .file_name()
        .and_then(|name| FileFormat::from_path_ext(&name.to_string_lossy()))
        .unwrap_or_else(|| FileFormat::sniff(&bytes));
    Ok((bytes, format))
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn progress_bar(rows: usize) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(rows as u64), target);
    let style = ProgressStyle::with_template("[{bar:40}] {pos}/{len} rows {msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn action_word(action: &RowAction) -> &'static str {
    match action {
        RowAction::Created => "created",
        RowAction::Updated => "updated",
        RowAction::Unchanged => "unchanged",
        RowAction::Deleted => "deleted",
        RowAction::Failed { .. } => "failed",
    }
}

/// Counts of each action, in the order they are printed.
fn counts(report: &ImportReport) -> [(&'static str, usize); 5] {
    [
        ("created", report.count(|a| matches!(a, RowAction::Created))),
        ("updated", report.count(|a| matches!(a, RowAction::Updated))),
        (
            "unchanged",
            report.count(|a| matches!(a, RowAction::Unchanged)),
        ),
        ("deleted", report.count(|a| matches!(a, RowAction::Deleted))),
        ("failed", report.failed()),
    ]
}

fn report_json(
    job: &Job<'_>,
    mode: Option<ImportMode>,
    report: &ImportReport,
) -> serde_json::Value {
    let mut out = json!({
        "corpid": job.corp.as_str(),
        "file": job.file.display().to_string(),
        "dry_run": job.dry_run,
        "committed": report.committed,
        "departments_created": report.created_departments,
    });
    if let Some(mode) = mode {
        out["mode"] = json!(match mode {
            ImportMode::Sync => "sync",
            ImportMode::Replace => "replace",
        });
    }
    for (name, n) in counts(report) {
        out[name] = json!(n);
    }
    out["failures"] = report
        .rows
        .iter()
        .filter_map(|r| match &r.action {
            RowAction::Failed { errcode, reason } => Some(json!({
                "line": r.line,
                "key": r.key,
                "errcode": errcode,
                "reason": reason,
            })),
            _ => None,
        })
        .collect();
    out
}

/// Prints the summary and each failed row as `line N (key): reason [errcode]`.
fn print_report(job: &Job<'_>, noun: &str, report: &ImportReport) {
    let counts: Vec<String> = counts(report)
        .iter()
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    let file = job.file.display();
    let corp = &job.corp;
    let what = if report.committed {
        format!("imported {noun} from {file} into {corp}")
    } else {
        format!("dry run, nothing was changed: {noun} from {file} for {corp}")
    };
    println!("{what}: {}", counts.join(", "));
    let made = &report.created_departments;
    if !made.is_empty() {
        const SHOWN: usize = 10;
        let mut list = made
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if made.len() > SHOWN {
            list.push_str(&format!(", ... ({} more)", made.len() - SHOWN));
        }
        println!("departments created: {} ({list})", made.len());
    }
    let failures: Vec<_> = report
        .rows
        .iter()
        .filter_map(|r| match &r.action {
            RowAction::Failed { errcode, reason } => Some((r, errcode, reason)),
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        println!("failed rows (skipped):");
        for (row, errcode, reason) in failures {
            if row.key.is_empty() {
                println!("  line {}: {reason} [{errcode}]", row.line);
            } else {
                println!("  line {} ({}): {reason} [{errcode}]", row.line, row.key);
            }
        }
    }
}

/// Writes the per-row report file, in the format its name says (CSV by default).
fn write_row_report(path: &Path, report: &ImportReport) -> anyhow::Result<()> {
    let rows: Vec<RowReport> = report
        .rows
        .iter()
        .map(|r| RowReport {
            line: r.line,
            key: r.key.clone(),
            result: action_word(&r.action).to_owned(),
            reason: match &r.action {
                RowAction::Failed { errcode, reason } => format!("{reason} [{errcode}]"),
                _ => String::new(),
            },
        })
        .collect();
    let format = path
        .file_name()
        .and_then(|name| FileFormat::from_path_ext(&name.to_string_lossy()))
        .unwrap_or(FileFormat::Csv);
    let bytes = write_report(&rows, format, HeaderLanguage::English)?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Prints the outcome of an import that was not refused, then writes the
/// report file if asked.
fn finish(
    job: &Job<'_>,
    noun: &str,
    mode: Option<ImportMode>,
    report: &ImportReport,
) -> anyhow::Result<()> {
    if job.json {
        print_json(&report_json(job, mode, report))?;
    } else {
        print_report(job, noun, report);
    }
    if let Some(path) = job.report {
        write_row_report(path, report).with_context(|| {
            if report.committed {
                "the import was committed, but its report was not written"
            } else {
                "the report was not written"
            }
        })?;
        if !job.json {
            println!("row report written to {}", path.display());
        }
    }
    Ok(())
}

/// Audits an import refused as a whole (a dry run changes nothing, so it is
/// not recorded).
async fn record_refusal(
    services: &Services,
    job: &Job<'_>,
    action: &str,
    rows: usize,
    err: &qiye_app::AppError,
) {
    if !job.dry_run {
        services
            .record_failure(
                operator(),
                &job.corp,
                None,
                action,
                &format!("rows:{rows}"),
                err.to_string(),
            )
            .await;
    }
}

async fn import_members(
    services: &Services,
    job: &Job<'_>,
    mode: ImportMode,
) -> anyhow::Result<()> {
    let corp = &job.corp;
    services
        .get_corp(corp)
        .await
        .with_context(|| format!("corp {corp}"))?;
    let (bytes, format) = read_file(job.file)?;
    let rows = read_members(&bytes, format)
        .with_context(|| format!("cannot import {}", job.file.display()))?;
    let caller = DirCaller::operator(corp.clone(), operator());
    let options = ImportOptions {
        mode,
        dry_run: job.dry_run,
        ..ImportOptions::default()
    };
    let bar = progress_bar(rows.len());
    let total = rows.len();
    let progress = |done: usize| {
        bar.set_position(done as u64);
        if done == total {
            bar.set_message(if job.dry_run { "" } else { "committing" });
        }
    };
    let outcome = services
        .import_members(&caller, &rows, options, &progress)
        .await;
    bar.finish_and_clear();
    let report = match outcome {
        Ok(report) => report,
        Err(err) => {
            let action = match mode {
                ImportMode::Sync => "directory.import.sync",
                ImportMode::Replace => "directory.import.replace",
            };
            record_refusal(services, job, action, rows.len(), &err).await;
            return Err(err).with_context(|| {
                format!(
                    "import of {} refused, nothing was changed",
                    job.file.display()
                )
            });
        }
    };
    finish(job, "members", Some(mode), &report)
}

async fn import_departments(services: &Services, job: &Job<'_>) -> anyhow::Result<()> {
    let corp = &job.corp;
    services
        .get_corp(corp)
        .await
        .with_context(|| format!("corp {corp}"))?;
    let (bytes, format) = read_file(job.file)?;
    let rows = read_departments(&bytes, format)
        .with_context(|| format!("cannot import {}", job.file.display()))?;
    let caller = DirCaller::operator(corp.clone(), operator());
    let report = match services
        .import_departments(&caller, &rows, ImportMode::Replace, job.dry_run)
        .await
    {
        Ok(report) => report,
        Err(err) => {
            record_refusal(
                services,
                job,
                "directory.import.departments",
                rows.len(),
                &err,
            )
            .await;
            return Err(err).with_context(|| {
                format!(
                    "import of {} refused, nothing was changed",
                    job.file.display()
                )
            });
        }
    };
    finish(job, "departments", None, &report)
}

async fn export(
    services: &Services,
    corp: &CorpId,
    format: FileFormatArg,
    out: Option<PathBuf>,
    lang: LanguageArg,
) -> anyhow::Result<()> {
    services
        .get_corp(corp)
        .await
        .with_context(|| format!("corp {corp}"))?;
    let format = match format {
        FileFormatArg::Csv => FileFormat::Csv,
        FileFormatArg::Xlsx => FileFormat::Xlsx,
    };
    let language = match lang {
        LanguageArg::Zh => HeaderLanguage::Chinese,
        LanguageArg::En => HeaderLanguage::English,
    };
    let caller = DirCaller::operator(corp.clone(), operator());
    let exported = services
        .export_members_file(&caller, format, language)
        .await
        .with_context(|| format!("cannot export the directory of corp {corp}"))?;
    let (bytes, rows) = (exported.bytes, exported.rows);
    let out =
        out.unwrap_or_else(|| PathBuf::from(format!("directory-{corp}.{}", format.extension())));
    if out.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&bytes)?;
        stdout.flush()?;
        eprintln!("exported {rows} members of {corp}");
    } else {
        std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
        println!("exported {rows} members of {corp} to {}", out.display());
    }
    Ok(())
}
