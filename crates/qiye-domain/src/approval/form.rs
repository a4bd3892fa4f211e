//! The form: WeCom's 19 controls (§1.2 of the approval anchors), their
//! template configuration, their typed values, and the validation a value
//! passes before anything is stored.
//!
//! A [`FormSpec`] is the ordered list of a template's controls. A submitted
//! [`FormInput`] is validated by [`FormSpec::validate`] into [`FormData`]:
//! every value has the kind its control expects, required controls are
//! filled, controls hidden by a selector's option relations are dropped,
//! and `Formula` values are computed here (a client's value is ignored).
//! The first bad value refuses the whole form with a [`FieldError`] naming
//! the control's id and title.

use std::collections::{BTreeMap, BTreeSet};

use super::check::TemplateIssue;
use super::decimal::{Decimal, DecimalError};
use super::formula::{Expr, Operand};
use super::model::{ControlId, LangText, SpNo, TemplateId, display_text};
use super::org::Org;
use crate::ids::{DeptId, UserId};

/// Longest control title, in characters (WeCom).
pub const MAX_TITLE_CHARS: usize = 40;
/// Longest placeholder, in characters (WeCom).
pub const MAX_PLACEHOLDER_CHARS: usize = 80;
/// Default longest `Text` value, in characters.
pub const TEXT_MAX_CHARS: u32 = 500;
/// Default longest `Textarea` value, in characters.
pub const TEXTAREA_MAX_CHARS: u32 = 5000;
/// Default most files in a `File` control (WeCom: 6 per application).
pub const DEFAULT_MAX_FILES: u8 = 6;
/// Most rows in a `Table`.
pub const MAX_TABLE_ROWS: usize = 200;
/// Most controls in a template (children of tables included).
pub const MAX_CONTROLS: usize = 200;
/// Most options of a `Selector` (WeCom's external-option limit).
pub const MAX_OPTIONS: usize = 300;
/// Most linked instances in a `RelatedApproval`.
pub const MAX_RELATED: usize = 20;
/// Longest overtime, in seconds (WeCom: 7 days).
pub const MAX_OVERTIME_SECS: i64 = 7 * 86_400;
/// China's offset from UTC, the default zone of dates (seconds).
pub const CHINA_OFFSET_SECS: i32 = 8 * 3600;

/// A control's kind, with WeCom's `control` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControlKind {
    /// `Text` 文本.
    Text,
    /// `Textarea` 多行文本.
    Textarea,
    /// `Number` 数字.
    Number,
    /// `Money` 金额.
    Money,
    /// `Date` 日期.
    Date,
    /// `DateRange` 时长.
    DateRange,
    /// `Selector` 单选/多选.
    Selector,
    /// `Contact` 成员/部门.
    Contact,
    /// `Tips` 说明文字.
    Tips,
    /// `File` 附件.
    File,
    /// `Table` 明细.
    Table,
    /// `Vacation` 请假.
    Vacation,
    /// `Attendance` 出差/外出/加班.
    Attendance,
    /// `PunchCorrection` 补卡.
    PunchCorrection,
    /// `Location` 位置.
    Location,
    /// `RelatedApproval` 关联审批单.
    RelatedApproval,
    /// `Formula` 公式.
    Formula,
    /// `BankAccount` 收款账户.
    BankAccount,
    /// `PhoneNumber` 电话号码.
    PhoneNumber,
}

impl ControlKind {
    /// All 19 kinds.
    pub const ALL: [ControlKind; 19] = [
        ControlKind::Text,
        ControlKind::Textarea,
        ControlKind::Number,
        ControlKind::Money,
        ControlKind::Date,
        ControlKind::DateRange,
        ControlKind::Selector,
        ControlKind::Contact,
        ControlKind::Tips,
        ControlKind::File,
        ControlKind::Table,
        ControlKind::Vacation,
        ControlKind::Attendance,
        ControlKind::PunchCorrection,
        ControlKind::Location,
        ControlKind::RelatedApproval,
        ControlKind::Formula,
        ControlKind::BankAccount,
        ControlKind::PhoneNumber,
    ];

    /// WeCom's `control` name.
    pub fn wecom_name(self) -> &'static str {
        match self {
            ControlKind::Text => "Text",
            ControlKind::Textarea => "Textarea",
            ControlKind::Number => "Number",
            ControlKind::Money => "Money",
            ControlKind::Date => "Date",
            ControlKind::DateRange => "DateRange",
            ControlKind::Selector => "Selector",
            ControlKind::Contact => "Contact",
            ControlKind::Tips => "Tips",
            ControlKind::File => "File",
            ControlKind::Table => "Table",
            ControlKind::Vacation => "Vacation",
            ControlKind::Attendance => "Attendance",
            ControlKind::PunchCorrection => "PunchCorrection",
            ControlKind::Location => "Location",
            ControlKind::RelatedApproval => "RelatedApproval",
            ControlKind::Formula => "Formula",
            ControlKind::BankAccount => "BankAccount",
            ControlKind::PhoneNumber => "PhoneNumber",
        }
    }

    /// From WeCom's `control` name (exact spelling).
    pub fn from_wecom_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.wecom_name() == name)
    }

    /// Whether the kind holds a number conditions and formulas can read.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ControlKind::Number | ControlKind::Money | ControlKind::Formula
        )
    }

    /// Whether the kind is a leave or attendance (假勤) control.
    pub fn is_leave_or_attendance(self) -> bool {
        matches!(self, ControlKind::Vacation | ControlKind::Attendance)
    }
}

/// `Date` precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateKind {
    /// A day (`day`).
    Day,
    /// A day and time (`hour`).
    Hour,
}

/// `DateRange` (and leave, attendance) unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeUnit {
    /// Half days (`halfday`): begin and end at 00:00 or 12:00.
    HalfDay,
    /// Hours (`hour`).
    Hour,
}

/// `Attendance` type, with WeCom's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttendanceKind {
    /// 出差 (3).
    BusinessTrip,
    /// 外出 (4).
    Outing,
    /// 加班 (5).
    Overtime,
}

impl AttendanceKind {
    /// WeCom's code.
    pub fn code(self) -> u8 {
        match self {
            AttendanceKind::BusinessTrip => 3,
            AttendanceKind::Outing => 4,
            AttendanceKind::Overtime => 5,
        }
    }

    /// From WeCom's code.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            3 => Some(AttendanceKind::BusinessTrip),
            4 => Some(AttendanceKind::Outing),
            5 => Some(AttendanceKind::Overtime),
            _ => None,
        }
    }
}

/// A `Selector` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorOption {
    /// Its key (`option-…`), unique in the control.
    pub key: String,
    /// Its label per language.
    pub value: Vec<LangText>,
}

/// A piece of `Tips` text: plain, or a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TipsPart {
    /// Plain text (type 1).
    Text(String),
    /// A link (type 2).
    Link {
        /// Shown text.
        title: String,
        /// Target.
        url: String,
    },
}

/// A leave type a `Vacation` control offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveType {
    /// Its id in leave management.
    pub id: u32,
    /// Its name.
    pub name: Vec<LangText>,
}

/// A control's configuration, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlConfig {
    /// Single-line text.
    Text {
        /// Longest value in characters ([`TEXT_MAX_CHARS`] when `None`).
        max_chars: Option<u32>,
    },
    /// Multi-line text.
    Textarea {
        /// Longest value in characters ([`TEXTAREA_MAX_CHARS`] when `None`).
        max_chars: Option<u32>,
    },
    /// A decimal number.
    Number {
        /// Smallest value allowed.
        min: Option<Decimal>,
        /// Largest value allowed.
        max: Option<Decimal>,
        /// Most digits after the point.
        places: Option<u8>,
    },
    /// An amount (two decimals, CNY unless told).
    Money {
        /// Smallest amount allowed.
        min: Option<Decimal>,
        /// Largest amount allowed.
        max: Option<Decimal>,
    },
    /// A date or date and time.
    Date {
        /// Precision.
        kind: DateKind,
    },
    /// A duration between two times.
    DateRange {
        /// Unit.
        unit: RangeUnit,
        /// Count workdays (1) or natural days (0).
        workdays: bool,
        /// Seconds in a working day, 1..=86400.
        perday_secs: u32,
    },
    /// Single or multiple choice.
    Selector {
        /// Whether several options may be chosen.
        multi: bool,
        /// The options.
        options: Vec<SelectorOption>,
        /// 控件关联: per option key, the controls shown only when it is
        /// chosen. A control named here is hidden unless one of its
        /// options is chosen.
        relations: Vec<(String, Vec<ControlId>)>,
    },
    /// Members or departments.
    Contact {
        /// Whether several may be chosen.
        multi: bool,
        /// Departments (`true`) or members.
        departments: bool,
    },
    /// Read-only text.
    Tips {
        /// Content per language.
        content: Vec<(String, Vec<TipsPart>)>,
    },
    /// Attachments.
    File {
        /// Photos only.
        only_photo: bool,
        /// Most files ([`DEFAULT_MAX_FILES`]).
        max_files: u8,
    },
    /// Rows of sub-controls.
    Table {
        /// The columns.
        children: Vec<ControlSpec>,
        /// Print each row on its own lines.
        print_rows: bool,
    },
    /// Leave.
    Vacation {
        /// Leave types offered.
        leave_types: Vec<LeaveType>,
    },
    /// Business trip, outing or overtime.
    Attendance {
        /// Which.
        kind: AttendanceKind,
        /// Unit of its range.
        unit: RangeUnit,
    },
    /// A punch correction.
    PunchCorrection,
    /// A place.
    Location {
        /// Allowed radius in metres: 100, 200 or 300.
        distance: u16,
    },
    /// Links to earlier instances.
    RelatedApproval {
        /// Templates the linked instances may come from; empty for any.
        templates: Vec<TemplateId>,
    },
    /// A value computed on the server.
    Formula {
        /// The source text, as the designer wrote it.
        source: String,
        /// The parsed expression.
        expr: Expr,
    },
    /// A bank account for payment.
    BankAccount,
    /// A telephone number.
    PhoneNumber,
}

impl ControlConfig {
    /// The kind this configuration belongs to.
    pub fn kind(&self) -> ControlKind {
        match self {
            ControlConfig::Text { .. } => ControlKind::Text,
            ControlConfig::Textarea { .. } => ControlKind::Textarea,
            ControlConfig::Number { .. } => ControlKind::Number,
            ControlConfig::Money { .. } => ControlKind::Money,
            ControlConfig::Date { .. } => ControlKind::Date,
            ControlConfig::DateRange { .. } => ControlKind::DateRange,
            ControlConfig::Selector { .. } => ControlKind::Selector,
            ControlConfig::Contact { .. } => ControlKind::Contact,
            ControlConfig::Tips { .. } => ControlKind::Tips,
            ControlConfig::File { .. } => ControlKind::File,
            ControlConfig::Table { .. } => ControlKind::Table,
            ControlConfig::Vacation { .. } => ControlKind::Vacation,
            ControlConfig::Attendance { .. } => ControlKind::Attendance,
            ControlConfig::PunchCorrection => ControlKind::PunchCorrection,
            ControlConfig::Location { .. } => ControlKind::Location,
            ControlConfig::RelatedApproval { .. } => ControlKind::RelatedApproval,
            ControlConfig::Formula { .. } => ControlKind::Formula,
            ControlConfig::BankAccount => ControlKind::BankAccount,
            ControlConfig::PhoneNumber => ControlKind::PhoneNumber,
        }
    }
}

/// One control of a template (WeCom's `property` and `config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlSpec {
    /// Unique in the template.
    pub id: ControlId,
    /// Title per language, at most 40 characters, unique in the template.
    pub title: Vec<LangText>,
    /// Placeholder per language, at most 80 characters.
    pub placeholder: Vec<LangText>,
    /// Whether a value is required (`require`).
    pub required: bool,
    /// Whether the control is left out of prints (`un_print`).
    pub un_print: bool,
    /// Kind and configuration.
    pub config: ControlConfig,
}

impl ControlSpec {
    /// A control with a Chinese title and no placeholder.
    pub fn new(id: &str, title: &str, required: bool, config: ControlConfig) -> Self {
        Self {
            id: ControlId::parse(id).expect("a valid control id literal"),
            title: vec![LangText::zh(title)],
            placeholder: Vec::new(),
            required,
            un_print: false,
            config,
        }
    }

    /// The control's kind.
    pub fn kind(&self) -> ControlKind {
        self.config.kind()
    }

    /// The title to show.
    pub fn title_text(&self) -> &str {
        display_text(&self.title)
    }

    /// Whether a value must be given: `require`, and always for `Vacation`
    /// and `Attendance`; never for the read-only `Tips` and `Formula`.
    pub fn needs_value(&self) -> bool {
        match self.kind() {
            ControlKind::Tips | ControlKind::Formula => false,
            ControlKind::Vacation | ControlKind::Attendance => true,
            _ => self.required,
        }
    }
}

/// An amount in minor units (fen), always two decimals on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money {
    /// The amount in 1/100 of the currency.
    pub minor: i64,
}

impl Money {
    /// From a decimal with at most two places.
    pub fn from_decimal(d: Decimal) -> Option<Self> {
        d.to_scaled(2).map(|minor| Money { minor })
    }

    /// As a decimal.
    pub fn to_decimal(self) -> Decimal {
        Decimal::from_scaled(self.minor, 2).unwrap_or(Decimal::ZERO)
    }
}

/// A `Date` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateValue {
    /// Precision.
    pub kind: DateKind,
    /// Unix seconds.
    pub at: i64,
    /// The zone's offset from UTC in seconds, when not UTC+8.
    pub zone_offset: Option<i32>,
}

/// A `DateRange` value (also inside leave and attendance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRangeValue {
    /// Unit.
    pub unit: RangeUnit,
    /// Start, Unix seconds.
    pub begin: i64,
    /// End, Unix seconds.
    pub end: i64,
    /// Duration in seconds; computed by [`FormSpec::validate`].
    pub duration: i64,
    /// The zone's offset from UTC in seconds, when not UTC+8.
    pub zone_offset: Option<i32>,
}

/// A member chosen in a `Contact` control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The member.
    pub userid: UserId,
    /// Their name when chosen (display snapshot).
    pub name: String,
}

/// A department chosen in a `Contact` control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeptRef {
    /// The department (`openapi_id`).
    pub dept: DeptId,
    /// Its name when chosen.
    pub name: String,
}

/// An attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// The uploaded media id.
    pub file_id: String,
    /// File name, if known.
    pub file_name: String,
}

/// One day of a leave or attendance slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySlice {
    /// The day (Unix seconds of its start).
    pub daytime: i64,
    /// Seconds counted that day.
    pub duration: i64,
}

/// How a leave or attendance range is split over days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceInfo {
    /// Per day.
    pub day_items: Vec<DaySlice>,
    /// Total seconds.
    pub duration: i64,
    /// 1 computed, 2 edited by the applicant.
    pub state: u8,
}

/// A `Vacation` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacationValue {
    /// The leave type's id.
    pub leave_type: u32,
    /// When.
    pub range: DateRangeValue,
    /// Split over days, if given.
    pub slices: Option<SliceInfo>,
}

/// An `Attendance` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendanceValue {
    /// Trip, outing or overtime.
    pub kind: AttendanceKind,
    /// When.
    pub range: DateRangeValue,
    /// Split over days, if given.
    pub slices: Option<SliceInfo>,
}

/// A `PunchCorrection` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PunchCorrectionValue {
    /// The punch's state text.
    pub state: String,
    /// The corrected time, Unix seconds.
    pub time: i64,
    /// Version of the attendance rules.
    pub version: u32,
    /// The day, Unix seconds of its start.
    pub daymonthyear: i64,
}

/// A `Location` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationValue {
    /// Latitude, -90..=90, at most 6 places.
    pub latitude: Decimal,
    /// Longitude, -180..=180, at most 6 places.
    pub longitude: Decimal,
    /// Place name.
    pub title: String,
    /// Address.
    pub address: String,
    /// When it was taken, Unix seconds.
    pub time: i64,
}

/// The bank of a [`BankAccount`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bank {
    /// Bank name.
    pub bank_alias: String,
    /// Bank code.
    pub bank_alias_code: String,
    /// Province.
    pub province: String,
    /// Province code.
    pub province_code: i64,
    /// City.
    pub city: String,
    /// City code.
    pub city_code: i64,
    /// Branch name.
    pub bank_branch_name: String,
    /// Branch id.
    pub bank_branch_id: String,
}

/// A `BankAccount` value. Sensitive: outside the instance itself (lists,
/// logs, notifications) show [`BankAccount::masked`].
#[derive(Clone, PartialEq, Eq)]
pub struct BankAccount {
    /// 1 corporate, 2 personal.
    pub account_type: u8,
    /// Holder.
    pub account_name: String,
    /// The number, digits only.
    pub account_number: String,
    /// Remark.
    pub remark: String,
    /// The bank.
    pub bank: Bank,
}

impl BankAccount {
    /// The account with its number reduced to the last four digits
    /// (`**** 1234`).
    pub fn masked(&self) -> BankAccount {
        let n = &self.account_number;
        let tail = &n[n.len().saturating_sub(4)..];
        BankAccount {
            account_number: format!("**** {tail}"),
            ..self.clone()
        }
    }
}

impl std::fmt::Debug for BankAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankAccount")
            .field("account_type", &self.account_type)
            .field("account_name", &self.account_name)
            .field("account_number", &self.masked().account_number)
            .finish_non_exhaustive()
    }
}

/// A `PhoneNumber` value: `{phone:{country_code, number}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    /// Country calling code, digits (`86`).
    pub country_code: String,
    /// The national number, digits.
    pub number: String,
}

/// One row of a `Table`: the value of each child control that has one.
pub type Row = BTreeMap<ControlId, ControlValue>;

/// A typed control value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlValue {
    /// `Text` or `Textarea`.
    Text(String),
    /// `Number`.
    Number(Decimal),
    /// `Money`.
    Money(Money),
    /// `Date`.
    Date(DateValue),
    /// `DateRange`.
    DateRange(DateRangeValue),
    /// `Selector`: the chosen keys.
    Selector(Vec<String>),
    /// `Contact` in member mode.
    Members(Vec<MemberRef>),
    /// `Contact` in department mode.
    Departments(Vec<DeptRef>),
    /// `File`.
    Files(Vec<FileRef>),
    /// `Table`.
    Table(Vec<Row>),
    /// `Vacation`.
    Vacation(VacationValue),
    /// `Attendance`.
    Attendance(AttendanceValue),
    /// `PunchCorrection`.
    PunchCorrection(PunchCorrectionValue),
    /// `Location`.
    Location(LocationValue),
    /// `RelatedApproval`.
    RelatedApproval(Vec<SpNo>),
    /// `Formula` (computed).
    Formula(Decimal),
    /// `BankAccount`.
    BankAccount(BankAccount),
    /// `PhoneNumber`.
    Phone(PhoneNumber),
}

impl ControlValue {
    /// Whether this counts as no value (empty text or list).
    pub fn is_empty(&self) -> bool {
        match self {
            ControlValue::Text(t) => t.trim().is_empty(),
            ControlValue::Selector(v) => v.is_empty(),
            ControlValue::Members(v) => v.is_empty(),
            ControlValue::Departments(v) => v.is_empty(),
            ControlValue::Files(v) => v.is_empty(),
            ControlValue::Table(v) => v.is_empty(),
            ControlValue::RelatedApproval(v) => v.is_empty(),
            _ => false,
        }
    }

    /// The number a condition or formula reads, if the value is numeric.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            ControlValue::Number(d) | ControlValue::Formula(d) => Some(*d),
            ControlValue::Money(m) => Some(m.to_decimal()),
            _ => None,
        }
    }

    fn fits(&self, kind: ControlKind) -> bool {
        matches!(
            (self, kind),
            (
                ControlValue::Text(_),
                ControlKind::Text | ControlKind::Textarea
            ) | (ControlValue::Number(_), ControlKind::Number)
                | (ControlValue::Money(_), ControlKind::Money)
                | (ControlValue::Date(_), ControlKind::Date)
                | (ControlValue::DateRange(_), ControlKind::DateRange)
                | (ControlValue::Selector(_), ControlKind::Selector)
                | (
                    ControlValue::Members(_) | ControlValue::Departments(_),
                    ControlKind::Contact
                )
                | (ControlValue::Files(_), ControlKind::File)
                | (ControlValue::Table(_), ControlKind::Table)
                | (ControlValue::Vacation(_), ControlKind::Vacation)
                | (ControlValue::Attendance(_), ControlKind::Attendance)
                | (
                    ControlValue::PunchCorrection(_),
                    ControlKind::PunchCorrection
                )
                | (ControlValue::Location(_), ControlKind::Location)
                | (
                    ControlValue::RelatedApproval(_),
                    ControlKind::RelatedApproval
                )
                | (ControlValue::Formula(_), ControlKind::Formula)
                | (ControlValue::BankAccount(_), ControlKind::BankAccount)
                | (ControlValue::Phone(_), ControlKind::PhoneNumber)
        )
    }

    /// The value as shown outside the instance: bank accounts masked.
    pub fn masked(&self) -> ControlValue {
        match self {
            ControlValue::BankAccount(b) => ControlValue::BankAccount(b.masked()),
            ControlValue::Table(rows) => ControlValue::Table(
                rows.iter()
                    .map(|r| r.iter().map(|(k, v)| (k.clone(), v.masked())).collect())
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// What a client submitted: values by control id, not yet validated.
pub type FormInput = BTreeMap<ControlId, ControlValue>;

/// A validated form: the value of every visible control that has one
/// (formulas included, computed). Only [`FormSpec::validate`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormData(BTreeMap<ControlId, ControlValue>);

impl FormData {
    /// A control's value.
    pub fn get(&self, id: &ControlId) -> Option<&ControlValue> {
        self.0.get(id)
    }

    /// Every value, by control id.
    pub fn values(&self) -> &BTreeMap<ControlId, ControlValue> {
        &self.0
    }

    /// A form [`FormSpec::validate`] accepted earlier, read back from
    /// storage (its `Submitted` event). Only stores call this: the values
    /// are trusted as they were validated when submitted.
    pub fn restore(values: BTreeMap<ControlId, ControlValue>) -> FormData {
        FormData(values)
    }

    /// The form as shown outside the instance (bank accounts masked).
    pub fn masked(&self) -> FormData {
        FormData(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.masked()))
                .collect(),
        )
    }
}

/// What is wrong with one value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    /// A required control has no value.
    #[error("a value is required")]
    Required,
    /// The template has no such control.
    #[error("no such control in the template")]
    UnknownControl,
    /// The value is of another kind than the control.
    #[error("expected a {0} value")]
    WrongKind(&'static str),
    /// Text too long.
    #[error("at most {0} characters")]
    TooLong(u32),
    /// A newline in single-line text.
    #[error("single-line text cannot contain a line break")]
    Newline,
    /// Outside the control's bounds.
    #[error("out of range")]
    OutOfRange,
    /// Too many digits after the point.
    #[error("at most {0} digits after the decimal point")]
    TooPrecise(u8),
    /// A selector key the control does not offer.
    #[error("unknown option {0}")]
    UnknownOption(String),
    /// Several choices (or repeats) where one is allowed.
    #[error("too many choices")]
    TooManyChoices,
    /// No such member, or not active.
    #[error("member {0} does not exist or is not active")]
    UnknownMember(String),
    /// No such department.
    #[error("department {0} does not exist")]
    UnknownDept(u32),
    /// Too many files.
    #[error("at most {0} files")]
    TooManyFiles(u8),
    /// A file without an id.
    #[error("a file needs a file_id")]
    EmptyFile,
    /// The end is not after the begin.
    #[error("the end must be after the begin")]
    BadRange,
    /// A half-day range not at 00:00 or 12:00.
    #[error("half-day ranges begin and end at 00:00 or 12:00")]
    NotHalfDay,
    /// A leave type the control does not offer.
    #[error("unknown leave type {0}")]
    UnknownLeaveType(u32),
    /// An attendance value of another type than the control's.
    #[error("attendance type differs from the control's")]
    WrongAttendanceKind,
    /// Overtime longer than 7 days.
    #[error("overtime may span at most 7 days")]
    OvertimeTooLong,
    /// Coordinates out of range or too precise.
    #[error("invalid coordinates")]
    BadCoordinates,
    /// A bank account that is not well formed.
    #[error("invalid bank account: {0}")]
    BadAccount(&'static str),
    /// A phone number that is not E.164.
    #[error("invalid phone number")]
    BadPhone,
    /// Too many rows or linked instances.
    #[error("at most {0} entries")]
    TooMany(usize),
    /// A time that is not a valid Unix time.
    #[error("invalid time")]
    BadTime,
    /// A formula that cannot be computed.
    #[error("formula cannot be computed: {0}")]
    Formula(DecimalError),
}

/// A refused value, naming its control.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{title} ({control}){}: {problem}", row.map(|r| format!(" row {}", r + 1)).unwrap_or_default())]
pub struct FieldError {
    /// The control's id (a table's column when `row` is set).
    pub control: ControlId,
    /// Its title.
    pub title: String,
    /// The table row (0-based), for a table's column.
    pub row: Option<usize>,
    /// What is wrong.
    pub problem: ValueProblem,
}

impl FieldError {
    /// An error about `spec`'s value.
    pub fn new(spec: &ControlSpec, problem: ValueProblem) -> Self {
        Self {
            control: spec.id.clone(),
            title: spec.title_text().to_string(),
            row: None,
            problem,
        }
    }
}

/// A template's form: its controls in display order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FormSpec {
    /// The controls.
    pub controls: Vec<ControlSpec>,
}

impl FormSpec {
    /// A top-level control by id.
    pub fn control(&self, id: &ControlId) -> Option<&ControlSpec> {
        self.controls.iter().find(|c| &c.id == id)
    }

    /// A table's column.
    pub fn column(&self, table: &ControlId, column: &ControlId) -> Option<&ControlSpec> {
        match &self.control(table)?.config {
            ControlConfig::Table { children, .. } => children.iter().find(|c| &c.id == column),
            _ => None,
        }
    }

    /// Controls hidden unless one of the given options is chosen, by
    /// target: `(selector, keys that show it)`.
    fn relation_targets(&self) -> BTreeMap<&ControlId, Vec<(&ControlId, &str)>> {
        let mut out: BTreeMap<&ControlId, Vec<(&ControlId, &str)>> = BTreeMap::new();
        for c in &self.controls {
            if let ControlConfig::Selector { relations, .. } = &c.config {
                for (key, targets) in relations {
                    for t in targets {
                        out.entry(t).or_default().push((&c.id, key.as_str()));
                    }
                }
            }
        }
        out
    }

    /// Validates a submission: see the module docs. `org` answers whether
    /// chosen members and departments exist.
    pub fn validate(&self, input: &FormInput, org: &dyn Org) -> Result<FormData, FieldError> {
        for id in input.keys() {
            if self.control(id).is_none() {
                return Err(FieldError {
                    control: id.clone(),
                    title: String::new(),
                    row: None,
                    problem: ValueProblem::UnknownControl,
                });
            }
        }
        let relations = self.relation_targets();
        let visible = |c: &ControlSpec| {
            relations.get(&c.id).is_none_or(|shown_by| {
                shown_by.iter().any(|(sel, key)| {
                    matches!(input.get(*sel), Some(ControlValue::Selector(keys)) if keys.iter().any(|k| k == key))
                })
            })
        };
        let mut out = BTreeMap::new();
        for spec in &self.controls {
            if !visible(spec) || spec.kind() == ControlKind::Formula {
                continue;
            }
            let value = input.get(&spec.id).filter(|v| !v.is_empty());
            match value {
                None if spec.needs_value() => {
                    return Err(FieldError::new(spec, ValueProblem::Required));
                }
                None => {}
                Some(v) => {
                    let v = check_value(spec, v, org)?;
                    out.insert(spec.id.clone(), v);
                }
            }
        }
        let mut data = FormData(out);
        self.compute_formulas(&mut data)?;
        Ok(data)
    }

    /// Formulas in dependency order (publish refuses cycles; a cycle here
    /// leaves the formulas in it out).
    pub(crate) fn formula_order(&self) -> Vec<&ControlSpec> {
        let formulas: Vec<&ControlSpec> = self
            .controls
            .iter()
            .filter(|c| c.kind() == ControlKind::Formula)
            .collect();
        let mut done: BTreeSet<&ControlId> = BTreeSet::new();
        let mut order = Vec::new();
        loop {
            let before = order.len();
            for f in &formulas {
                if done.contains(&f.id) {
                    continue;
                }
                let ControlConfig::Formula { expr, .. } = &f.config else {
                    continue;
                };
                let ready = expr.operands().iter().all(|op| match op {
                    Operand::Control(id) => {
                        !formulas.iter().any(|g| &g.id == *id) || done.contains(id)
                    }
                    Operand::Column { .. } => true,
                });
                if ready {
                    done.insert(&f.id);
                    order.push(*f);
                }
            }
            if order.len() == before {
                return order;
            }
        }
    }

    fn compute_formulas(&self, data: &mut FormData) -> Result<(), FieldError> {
        for spec in self.formula_order() {
            let ControlConfig::Formula { expr, .. } = &spec.config else {
                continue;
            };
            let value = expr
                .eval(&|op| operand_value(&data.0, op))
                .map_err(|e| FieldError::new(spec, ValueProblem::Formula(e)))?;
            data.0.insert(spec.id.clone(), ControlValue::Formula(value));
        }
        Ok(())
    }

    /// Structural checks of the form at publish, appended to `issues`.
    pub(crate) fn check(&self, issues: &mut Vec<TemplateIssue>) {
        let mut ids = BTreeSet::new();
        let mut titles = BTreeSet::new();
        let mut count = 0usize;
        let mut leave = 0usize;
        for c in &self.controls {
            check_control(c, &mut ids, &mut titles, &mut count, issues);
            if c.kind().is_leave_or_attendance() {
                leave += 1;
            }
            if let ControlConfig::Table { children, .. } = &c.config {
                if children.is_empty() {
                    issues.push(TemplateIssue::control(
                        c,
                        "a table needs at least one column",
                    ));
                }
                let mut child_titles = BTreeSet::new();
                for child in children {
                    check_control(child, &mut ids, &mut child_titles, &mut count, issues);
                    if matches!(
                        child.kind(),
                        ControlKind::Table
                            | ControlKind::Vacation
                            | ControlKind::Attendance
                            | ControlKind::Formula
                    ) {
                        issues.push(TemplateIssue::control(
                            child,
                            "a table cannot hold a Table, Vacation, Attendance or Formula",
                        ));
                    }
                }
            }
        }
        if leave > 1 {
            issues.push(TemplateIssue::Form(
                "at most one Vacation or Attendance control per template".into(),
            ));
        }
        if count > MAX_CONTROLS {
            issues.push(TemplateIssue::Form(format!(
                "at most {MAX_CONTROLS} controls per template"
            )));
        }
        self.check_links(issues);
    }

    /// Formula references and selector relations point at controls that
    /// exist and fit; formulas form no cycle.
    fn check_links(&self, issues: &mut Vec<TemplateIssue>) {
        for c in &self.controls {
            match &c.config {
                ControlConfig::Formula { expr, .. } => {
                    for op in expr.operands() {
                        let target = match op {
                            Operand::Control(id) => self.control(id),
                            Operand::Column { table, column } => self.column(table, column),
                        };
                        let ok = match (op, target) {
                            (Operand::Control(_), Some(t)) => t.kind().is_numeric(),
                            (Operand::Column { .. }, Some(t)) => {
                                matches!(t.kind(), ControlKind::Number | ControlKind::Money)
                            }
                            (_, None) => false,
                        };
                        if !ok {
                            issues.push(TemplateIssue::control(
                                c,
                                "the formula reads a control that is missing or not a Number, Money or Formula",
                            ));
                        }
                    }
                }
                ControlConfig::Selector { relations, .. } => {
                    for (_, targets) in relations {
                        for t in targets {
                            if self.control(t).is_none() || t == &c.id {
                                issues.push(TemplateIssue::control(
                                    c,
                                    "an option relation names a missing control",
                                ));
                            } else if self.control(t).is_some_and(ControlSpec::needs_value) {
                                issues.push(TemplateIssue::control(
                                    c,
                                    "an option relation hides a control that is always required",
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let formulas = self
            .controls
            .iter()
            .filter(|c| c.kind() == ControlKind::Formula)
            .count();
        if self.formula_order().len() < formulas {
            issues.push(TemplateIssue::Form(
                "formulas refer to each other in a cycle".into(),
            ));
        }
    }
}

fn operand_value(
    values: &BTreeMap<ControlId, ControlValue>,
    op: Operand<'_>,
) -> Result<Decimal, DecimalError> {
    match op {
        Operand::Control(id) => Ok(values
            .get(id)
            .and_then(ControlValue::as_decimal)
            .unwrap_or(Decimal::ZERO)),
        Operand::Column { table, column } => {
            let Some(ControlValue::Table(rows)) = values.get(table) else {
                return Ok(Decimal::ZERO);
            };
            rows.iter()
                .filter_map(|r| r.get(column).and_then(ControlValue::as_decimal))
                .try_fold(Decimal::ZERO, Decimal::checked_add)
        }
    }
}

fn check_control<'a>(
    c: &'a ControlSpec,
    ids: &mut BTreeSet<&'a ControlId>,
    titles: &mut BTreeSet<&'a str>,
    count: &mut usize,
    issues: &mut Vec<TemplateIssue>,
) {
    *count += 1;
    if !ids.insert(&c.id) {
        issues.push(TemplateIssue::control(c, "the control id is used twice"));
    }
    let title = c.title_text();
    if title.trim().is_empty()
        || c.title
            .iter()
            .any(|t| t.text.chars().count() > MAX_TITLE_CHARS)
    {
        issues.push(TemplateIssue::control(
            c,
            "a title needs 1 to 40 characters",
        ));
    } else if !titles.insert(title) {
        issues.push(TemplateIssue::control(c, "the title is used twice"));
    }
    if c.placeholder
        .iter()
        .any(|t| t.text.chars().count() > MAX_PLACEHOLDER_CHARS)
    {
        issues.push(TemplateIssue::control(
            c,
            "a placeholder has at most 80 characters",
        ));
    }
    let bad =
        |issues: &mut Vec<TemplateIssue>, why: &str| issues.push(TemplateIssue::control(c, why));
    match &c.config {
        ControlConfig::Number { min, max, places } => {
            if matches!((min, max), (Some(a), Some(b)) if a > b) {
                bad(issues, "min is above max");
            }
            if places.is_some_and(|p| u32::from(p) > super::decimal::DECIMAL_PLACES) {
                bad(issues, "at most 6 decimal places");
            }
        }
        ControlConfig::Money { min, max } => {
            if matches!((min, max), (Some(a), Some(b)) if a > b) {
                bad(issues, "min is above max");
            }
        }
        ControlConfig::DateRange { perday_secs, .. } if !(1..=86_400).contains(perday_secs) => {
            bad(issues, "perday_duration must be 1 to 86400 seconds");
        }
        ControlConfig::Selector { options, .. } => {
            let keys: BTreeSet<&str> = options.iter().map(|o| o.key.as_str()).collect();
            if options.is_empty() || options.len() > MAX_OPTIONS {
                bad(issues, "a selector needs 1 to 300 options");
            }
            if keys.len() != options.len() || keys.iter().any(|k| k.is_empty()) {
                bad(issues, "option keys must be unique and not empty");
            }
        }
        ControlConfig::Tips { content } => {
            for (_, parts) in content {
                let links = parts
                    .iter()
                    .filter(|p| matches!(p, TipsPart::Link { .. }))
                    .count();
                let chars: usize = parts
                    .iter()
                    .map(|p| match p {
                        TipsPart::Text(t) => t.chars().count(),
                        TipsPart::Link { title, .. } => title.chars().count(),
                    })
                    .sum();
                let long_url = parts
                    .iter()
                    .any(|p| matches!(p, TipsPart::Link { url, .. } if url.chars().count() > 600));
                if links > 1 || chars > 800 || long_url {
                    bad(
                        issues,
                        "tips: at most one link, 800 characters and a 600-character URL per language",
                    );
                }
            }
        }
        ControlConfig::File { max_files: 0, .. } => {
            bad(issues, "a file control must allow at least one file");
        }
        ControlConfig::Vacation { leave_types } if leave_types.is_empty() => {
            bad(issues, "a vacation control needs at least one leave type");
        }
        ControlConfig::Location { distance } if ![100, 200, 300].contains(distance) => {
            bad(issues, "location distance must be 100, 200 or 300");
        }
        _ => {}
    }
}

fn check_value(
    spec: &ControlSpec,
    v: &ControlValue,
    org: &dyn Org,
) -> Result<ControlValue, FieldError> {
    let err = |p| FieldError::new(spec, p);
    if !v.fits(spec.kind()) {
        return Err(err(ValueProblem::WrongKind(spec.kind().wecom_name())));
    }
    match (&spec.config, v) {
        (ControlConfig::Text { max_chars }, ControlValue::Text(t)) => {
            if t.contains(['\n', '\r']) {
                return Err(err(ValueProblem::Newline));
            }
            check_len(t, max_chars.unwrap_or(TEXT_MAX_CHARS)).map_err(err)?;
        }
        (ControlConfig::Textarea { max_chars }, ControlValue::Text(t)) => {
            check_len(t, max_chars.unwrap_or(TEXTAREA_MAX_CHARS)).map_err(err)?;
        }
        (ControlConfig::Number { min, max, places }, ControlValue::Number(n)) => {
            check_bounds(*n, *min, *max).map_err(err)?;
            if let Some(p) = places {
                if n.places() > u32::from(*p) {
                    return Err(err(ValueProblem::TooPrecise(*p)));
                }
            }
        }
        (ControlConfig::Money { min, max }, ControlValue::Money(m)) => {
            check_bounds(m.to_decimal(), *min, *max).map_err(err)?;
        }
        (ControlConfig::Date { kind }, ControlValue::Date(d)) => {
            if d.kind != *kind {
                return Err(err(ValueProblem::WrongKind("Date of the control's type")));
            }
            check_time(d.at).map_err(err)?;
        }
        (ControlConfig::DateRange { unit, .. }, ControlValue::DateRange(r)) => {
            return Ok(ControlValue::DateRange(check_range(r, *unit).map_err(err)?));
        }
        (ControlConfig::Selector { multi, options, .. }, ControlValue::Selector(keys)) => {
            let unique: BTreeSet<&String> = keys.iter().collect();
            if unique.len() != keys.len() || (!multi && keys.len() > 1) {
                return Err(err(ValueProblem::TooManyChoices));
            }
            if let Some(k) = keys.iter().find(|k| !options.iter().any(|o| &o.key == *k)) {
                return Err(err(ValueProblem::UnknownOption(k.clone())));
            }
        }
        (ControlConfig::Contact { multi, departments }, value) => {
            let n = match value {
                ControlValue::Members(ms) if !departments => {
                    if let Some(m) = ms.iter().find(|m| !org.is_active(&m.userid)) {
                        return Err(err(ValueProblem::UnknownMember(m.userid.to_string())));
                    }
                    let unique: BTreeSet<&UserId> = ms.iter().map(|m| &m.userid).collect();
                    if unique.len() != ms.len() {
                        return Err(err(ValueProblem::TooManyChoices));
                    }
                    ms.len()
                }
                ControlValue::Departments(ds) if *departments => {
                    if let Some(d) = ds.iter().find(|d| !org.dept_exists(d.dept)) {
                        return Err(err(ValueProblem::UnknownDept(d.dept.get())));
                    }
                    let unique: BTreeSet<DeptId> = ds.iter().map(|d| d.dept).collect();
                    if unique.len() != ds.len() {
                        return Err(err(ValueProblem::TooManyChoices));
                    }
                    ds.len()
                }
                _ => {
                    return Err(err(ValueProblem::WrongKind(if *departments {
                        "Contact (departments)"
                    } else {
                        "Contact (members)"
                    })));
                }
            };
            if !multi && n > 1 {
                return Err(err(ValueProblem::TooManyChoices));
            }
        }
        (ControlConfig::File { max_files, .. }, ControlValue::Files(files)) => {
            if files.len() > usize::from(*max_files) {
                return Err(err(ValueProblem::TooManyFiles(*max_files)));
            }
            if files.iter().any(|f| f.file_id.trim().is_empty()) {
                return Err(err(ValueProblem::EmptyFile));
            }
        }
        (ControlConfig::Table { children, .. }, ControlValue::Table(rows)) => {
            return check_table(spec, children, rows, org).map(ControlValue::Table);
        }
        (ControlConfig::Vacation { leave_types }, ControlValue::Vacation(v)) => {
            if !leave_types.iter().any(|t| t.id == v.leave_type) {
                return Err(err(ValueProblem::UnknownLeaveType(v.leave_type)));
            }
            let range = check_range(&v.range, v.range.unit).map_err(err)?;
            return Ok(ControlValue::Vacation(VacationValue { range, ..v.clone() }));
        }
        (ControlConfig::Attendance { kind, unit }, ControlValue::Attendance(a)) => {
            if a.kind != *kind {
                return Err(err(ValueProblem::WrongAttendanceKind));
            }
            let range = check_range(&a.range, *unit).map_err(err)?;
            if *kind == AttendanceKind::Overtime && range.end - range.begin > MAX_OVERTIME_SECS {
                return Err(err(ValueProblem::OvertimeTooLong));
            }
            return Ok(ControlValue::Attendance(AttendanceValue {
                range,
                ..a.clone()
            }));
        }
        (ControlConfig::PunchCorrection, ControlValue::PunchCorrection(p)) => {
            check_time(p.time).map_err(err)?;
            check_time(p.daymonthyear).map_err(err)?;
        }
        (ControlConfig::Location { .. }, ControlValue::Location(l)) => {
            let in_range =
                |d: Decimal, lim: i64| d >= Decimal::from_int(-lim) && d <= Decimal::from_int(lim);
            if !in_range(l.latitude, 90) || !in_range(l.longitude, 180) {
                return Err(err(ValueProblem::BadCoordinates));
            }
        }
        (ControlConfig::RelatedApproval { .. }, ControlValue::RelatedApproval(nos))
            if nos.len() > MAX_RELATED =>
        {
            return Err(err(ValueProblem::TooMany(MAX_RELATED)));
        }
        (ControlConfig::BankAccount, ControlValue::BankAccount(b)) => {
            check_account(b).map_err(err)?;
        }
        (ControlConfig::PhoneNumber, ControlValue::Phone(p)) => {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let cc_ok = digits(&p.country_code)
                && p.country_code.len() <= 3
                && !p.country_code.starts_with('0');
            let total = p.country_code.len() + p.number.len();
            if !cc_ok || !digits(&p.number) || !(8..=15).contains(&total) {
                return Err(err(ValueProblem::BadPhone));
            }
        }
        _ => {}
    }
    Ok(v.clone())
}

fn check_len(t: &str, max: u32) -> Result<(), ValueProblem> {
    if t.chars().count() > max as usize {
        Err(ValueProblem::TooLong(max))
    } else {
        Ok(())
    }
}

fn check_bounds(
    n: Decimal,
    min: Option<Decimal>,
    max: Option<Decimal>,
) -> Result<(), ValueProblem> {
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        Err(ValueProblem::OutOfRange)
    } else {
        Ok(())
    }
}

fn check_time(t: i64) -> Result<(), ValueProblem> {
    // Up to the year 9999.
    if (0..=253_402_300_799).contains(&t) {
        Ok(())
    } else {
        Err(ValueProblem::BadTime)
    }
}

/// Checks a range and computes its duration (end − begin; counting only
/// workdays needs the work calendar, which the app layer applies).
fn check_range(r: &DateRangeValue, unit: RangeUnit) -> Result<DateRangeValue, ValueProblem> {
    check_time(r.begin)?;
    check_time(r.end)?;
    if r.unit != unit {
        return Err(ValueProblem::WrongKind("DateRange of the control's unit"));
    }
    if r.end <= r.begin {
        return Err(ValueProblem::BadRange);
    }
    if unit == RangeUnit::HalfDay {
        let offset = i64::from(r.zone_offset.unwrap_or(CHINA_OFFSET_SECS));
        let at_half = |t: i64| (t + offset).rem_euclid(43_200) == 0;
        if !at_half(r.begin) || !at_half(r.end) {
            return Err(ValueProblem::NotHalfDay);
        }
    }
    Ok(DateRangeValue {
        duration: r.end - r.begin,
        ..*r
    })
}

fn check_account(b: &BankAccount) -> Result<(), ValueProblem> {
    if !matches!(b.account_type, 1 | 2) {
        return Err(ValueProblem::BadAccount("account_type must be 1 or 2"));
    }
    if b.account_name.trim().is_empty() {
        return Err(ValueProblem::BadAccount("account_name is required"));
    }
    let n = &b.account_number;
    if !(6..=34).contains(&n.len()) || !n.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ValueProblem::BadAccount(
            "account_number must be 6 to 34 digits",
        ));
    }
    Ok(())
}

fn check_table(
    table: &ControlSpec,
    children: &[ControlSpec],
    rows: &[Row],
    org: &dyn Org,
) -> Result<Vec<Row>, FieldError> {
    if rows.len() > MAX_TABLE_ROWS {
        return Err(FieldError::new(
            table,
            ValueProblem::TooMany(MAX_TABLE_ROWS),
        ));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let at_row = |mut e: FieldError| {
            e.row = Some(i);
            e
        };
        if let Some(id) = row.keys().find(|id| !children.iter().any(|c| &c.id == *id)) {
            return Err(at_row(FieldError {
                control: id.clone(),
                title: String::new(),
                row: None,
                problem: ValueProblem::UnknownControl,
            }));
        }
        let mut checked = Row::new();
        for child in children {
            match row.get(&child.id).filter(|v| !v.is_empty()) {
                None if child.needs_value() => {
                    return Err(at_row(FieldError::new(child, ValueProblem::Required)));
                }
                None => {}
                Some(v) => {
                    checked.insert(
                        child.id.clone(),
                        check_value(child, v, org).map_err(at_row)?,
                    );
                }
            }
        }
        out.push(checked);
    }
    Ok(out)
}
