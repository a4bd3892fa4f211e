//! `qiye member ...`

use anyhow::Context;
use qiye_app::directory::DirCaller;
use qiye_app::{AppError, Services};
use qiye_domain::directory::DirError;
use serde_json::json;

use super::{corp_arg, operator, print_json, user_arg};
use crate::cli::MemberCommand;

pub(super) async fn run(command: MemberCommand, services: &Services) -> anyhow::Result<()> {
    match command {
        MemberCommand::ResetPassword {
            corpid,
            userid,
            json,
        } => {
            let corp = corp_arg(&corpid)?;
            let user = user_arg(&userid)?;
            services
                .get_corp(&corp)
                .await
                .with_context(|| format!("corp {corp}"))?;
            let caller = DirCaller::operator(corp.clone(), operator());
            let password = match services.reset_password(&caller, &user).await {
                Err(AppError::Dir(DirError::UserNotFound)) => {
                    anyhow::bail!("corp {corp} has no member with userid '{user}'")
                }
                other => other
                    .with_context(|| format!("cannot reset the password of {user} in {corp}"))?,
            };
            if json {
                print_json(&json!({
                    "corpid": corp.as_str(),
                    "userid": user.as_str(),
                    "password": password.expose(),
                }))
            } else {
                println!(
                    "new one-time password of {user} in {corp}: {}   (they must change it at sign-in; their sessions ended)",
                    password.expose()
                );
                Ok(())
            }
        }
    }
}
