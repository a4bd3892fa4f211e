//! The wire side of export files (`export/*`): each file is a JSON document
//! in the shape of the matching read API (`user/simplelist`, `user/get`,
//! `department/list`, `tag/get`), encrypted with the request's
//! EncodingAESKey ([`FileCipher`]).

use qiye_app::jobs::{ExportPart, ExportWire};
use qiye_domain::directory::Directory;
use qiye_domain::ids::CorpId;
use qiye_wecom::crypto::FileCipher;
use qiye_wecom::wire::directory::{ExportDepartments, ExportTagUsers, ExportUsers, TagUser};

use crate::cgi::directory::department::dept_out;
use crate::cgi::directory::user::{simple_user_out, user_out};

/// Renders and encrypts export files the WeCom way.
#[derive(Debug, Clone, Copy, Default)]
pub struct WecomExportWire;

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Plain data structures with string keys: serializing cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

impl ExportWire for WecomExportWire {
    fn render(&self, corp: &CorpId, dir: &Directory, part: &ExportPart<'_>) -> Vec<u8> {
        match part {
            ExportPart::SimpleMembers(members) => to_json(&ExportUsers {
                userlist: members.iter().map(|m| simple_user_out(corp, m)).collect(),
            }),
            ExportPart::Members(members) => to_json(&ExportUsers {
                userlist: members.iter().map(|m| user_out(corp, m)).collect(),
            }),
            ExportPart::Departments(depts) => to_json(&ExportDepartments {
                department: depts.iter().map(|d| dept_out(dir, d)).collect(),
            }),
            ExportPart::TagMembers { users, parties } => to_json(&ExportTagUsers {
                userlist: users
                    .iter()
                    .map(|m| TagUser {
                        userid: m.userid.as_str().to_owned(),
                        name: m.name.clone(),
                    })
                    .collect(),
                partylist: parties.iter().map(|d| i64::from(d.get())).collect(),
            }),
        }
    }

    fn seal(&self, aes_key: &str, plaintext: &[u8]) -> Result<Vec<u8>, String> {
        let cipher = FileCipher::new(aes_key).map_err(|e| e.to_string())?;
        Ok(cipher.seal(plaintext))
    }

    fn valid_key(&self, aes_key: &str) -> bool {
        FileCipher::new(aes_key).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qiye_domain::directory::Directory;

    #[test]
    fn department_files_decrypt_to_the_department_list_shape() {
        let dir = Directory::with_root("Acme");
        let corp = CorpId::parse("ww0123456789abcdef").unwrap();
        let root = dir.dept(qiye_domain::ids::DeptId::ROOT).unwrap();
        let plain = WecomExportWire.render(&corp, &dir, &ExportPart::Departments(&[root]));
        let json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(json["department"][0]["id"], 1);
        assert_eq!(json["department"][0]["name"], "Acme");
        assert_eq!(json["department"][0]["parentid"], 0);
        let key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
        let sealed = WecomExportWire.seal(key, &plain).unwrap();
        assert_eq!(FileCipher::new(key).unwrap().open(&sealed).unwrap(), plain);
        assert!(!WecomExportWire.valid_key("too short"));
    }
}
