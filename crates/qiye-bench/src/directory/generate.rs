//! A deterministic, realistic member file for the directory benchmarks.
//!
//! The file is what an administrator would upload to `batch/syncuser` or
//! `qiye directory import`: WeCom's member template with Chinese headers,
//! written by the same writer as `qiye directory export` (UTF-8 with a byte
//! order mark, CRLF). Departments are given as paths and created by the
//! import: `top` divisions × `middle` regions × `teams` teams
//! (`研发中心/华东/后端3组`). Every team gets members (member `i`'s first
//! department is team `i mod teams`), about a third of the members are in
//! a second team, the first member of each team leads it, and one member
//! in ten names their team's leader as direct leader. Userids, mobiles and
//! e-mails are unique; names are Chinese. The same shape and seed give the
//! same bytes.

use qiye_directory_file::{ExportMember, FileFormat, HeaderLanguage, write_members};

/// How large a directory to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryShape {
    /// Top-level divisions under the root.
    pub top: usize,
    /// Regions in each division.
    pub middle: usize,
    /// Teams in each region (the leaves members belong to).
    pub teams: usize,
    /// Members.
    pub members: usize,
}

impl DirectoryShape {
    /// Issue 3's target: 100,000 members in 5,000 teams (10 × 10 × 50).
    pub const ISSUE_3: Self = Self {
        top: 10,
        middle: 10,
        teams: 50,
        members: 100_000,
    };

    /// Leaf teams.
    pub fn leaf_teams(&self) -> usize {
        self.top * self.middle * self.teams
    }

    /// Every department the import creates (divisions, regions, teams),
    /// not counting the root.
    pub fn departments(&self) -> usize {
        self.top + self.top * self.middle + self.leaf_teams()
    }
}

/// SplitMix64: a tiny seeded generator whose output never changes with a
/// dependency's version, so a seed names one file for good.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const DIVISIONS: [&str; 10] = [
    "研发中心",
    "销售中心",
    "市场部",
    "财务部",
    "人力资源部",
    "运营中心",
    "客户服务部",
    "法务部",
    "采购部",
    "行政部",
];
const REGIONS: [&str; 10] = [
    "华北", "华东", "华南", "华中", "西南", "西北", "东北", "港澳", "海外", "总部",
];
const TEAM_KINDS: [&str; 10] = [
    "产品", "平台", "前端", "后端", "测试", "数据", "运维", "安全", "设计", "交付",
];
/// Common surnames with their pinyin (for userids).
const SURNAMES: [(&str, &str); 24] = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
];
const GIVEN: [&str; 32] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "文", "斌", "宇", "浩", "欣", "怡",
];
const POSITIONS: [&str; 8] = [
    "工程师",
    "高级工程师",
    "产品经理",
    "销售经理",
    "会计",
    "专员",
    "主管",
    "总监",
];

/// A name for the `i`-th of `count` siblings from a list, numbered when the
/// list is shorter than the siblings.
fn sibling_name(list: &[&str], i: usize, count: usize) -> String {
    if count <= list.len() {
        list[i].to_owned()
    } else {
        format!("{}{}", list[i % list.len()], i / list.len() + 1)
    }
}

/// The path of leaf team `k` (`研发中心/华东/后端3组`).
fn team_path(shape: &DirectoryShape, k: usize) -> String {
    let division = k / (shape.middle * shape.teams);
    let region = (k / shape.teams) % shape.middle;
    let team = k % shape.teams;
    format!(
        "{}/{}/{}{}组",
        sibling_name(&DIVISIONS, division, shape.top),
        sibling_name(&REGIONS, region, shape.middle),
        TEAM_KINDS[team % TEAM_KINDS.len()],
        team / TEAM_KINDS.len() + 1
    )
}

/// The member rows of the file, in file order.
pub fn members(shape: &DirectoryShape, seed: u64) -> Vec<ExportMember> {
    let mut rng = SplitMix64(seed);
    let teams = shape.leaf_teams().max(1);
    let people: Vec<(String, String)> = (0..shape.members)
        .map(|i| {
            let (surname, pinyin) = rng.pick(&SURNAMES);
            let given: String = (0..1 + rng.below(2)).map(|_| *rng.pick(&GIVEN)).collect();
            (format!("{surname}{given}"), format!("{pinyin}{i:06}"))
        })
        .collect();
    people
        .iter()
        .enumerate()
        .map(|(i, (name, userid))| {
            let first = i % teams;
            let mut departments = vec![team_path(shape, first)];
            if teams > 1 && rng.below(3) == 0 {
                let second = (first + 1 + rng.below(teams - 1)) % teams;
                departments.push(team_path(shape, second));
            }
            let leads = i < teams;
            let mut is_leader_in_dept = vec![i64::from(leads)];
            is_leader_in_dept.resize(departments.len(), 0);
            let direct_leader = if !leads && rng.below(10) == 0 {
                vec![people[first].1.clone()]
            } else {
                Vec::new()
            };
            ExportMember {
                userid: userid.clone(),
                name: name.clone(),
                alias: None,
                position: Some((*rng.pick(&POSITIONS)).to_owned()),
                main_department: Some(departments[0].clone()),
                order: vec![0; departments.len()],
                departments,
                is_leader_in_dept,
                direct_leader,
                gender: Some(1 + (rng.below(2) as i64)),
                mobile: Some(format!("1{}{i:09}", 3 + i % 7)),
                telephone: None,
                email: Some(format!("{userid}@example.com")),
                biz_mail: None,
                address: None,
                english_name: None,
                external_position: None,
                enable: Some(1),
                status: 1,
                extra: Vec::new(),
            }
        })
        .collect()
}

/// The member file as CSV bytes.
pub fn member_file(shape: &DirectoryShape, seed: u64) -> anyhow::Result<Vec<u8>> {
    Ok(write_members(
        &members(shape, seed),
        FileFormat::Csv,
        HeaderLanguage::Chinese,
    )?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use qiye_directory_file::read_members;

    use super::*;

    const SMALL: DirectoryShape = DirectoryShape {
        top: 3,
        middle: 4,
        teams: 12,
        members: 500,
    };

    #[test]
    fn the_same_seed_gives_the_same_file_and_another_seed_another() {
        let a = member_file(&SMALL, 7).unwrap();
        assert_eq!(a, member_file(&SMALL, 7).unwrap());
        assert_ne!(a, member_file(&SMALL, 8).unwrap());
    }

    #[test]
    fn the_file_reads_back_with_unique_keys_and_every_team_used() {
        let bytes = member_file(&SMALL, 1).unwrap();
        let rows = read_members(&bytes, FileFormat::sniff(&bytes)).unwrap();
        assert_eq!(rows.len(), SMALL.members);
        let rows: Vec<_> = rows.into_iter().map(Result::unwrap).collect();
        let unique = |f: fn(&qiye_directory_file::MemberRow) -> String| {
            rows.iter().map(f).collect::<HashSet<_>>().len()
        };
        assert_eq!(unique(|r| r.userid.clone()), SMALL.members);
        assert_eq!(unique(|r| r.mobile.clone().unwrap()), SMALL.members);
        assert_eq!(unique(|r| r.email.clone().unwrap()), SMALL.members);
        let teams: HashSet<_> = rows.iter().flat_map(|r| r.departments.clone()).collect();
        assert_eq!(teams.len(), SMALL.leaf_teams());
        assert!(teams.iter().all(|path| path.len() == 3));
        assert!(rows.iter().all(|r| (1..=2).contains(&r.departments.len())));
        assert!(rows.iter().any(|r| r.departments.len() == 2));
        assert!(rows.iter().any(|r| !r.direct_leader.is_empty()));
        assert!(rows[0].name.chars().all(|c| !c.is_ascii()));
    }

    #[test]
    fn issue_3_shape_has_5000_teams() {
        assert_eq!(DirectoryShape::ISSUE_3.leaf_teams(), 5_000);
        assert_eq!(DirectoryShape::ISSUE_3.departments(), 5_110);
    }

    #[test]
    fn numbered_names_when_siblings_outnumber_the_list() {
        assert_eq!(sibling_name(&REGIONS, 1, 10), "华东");
        assert_eq!(sibling_name(&REGIONS, 11, 12), "华东2");
    }
}
