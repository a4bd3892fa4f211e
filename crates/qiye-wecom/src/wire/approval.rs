//! Approval (`oa/*`) wire shapes: `apply_data.contents[]`, the control
//! values of `oa/applyevent` and `oa/getapprovaldetail` (§6.4 of the wire
//! reference). Parsed leniently (numbers may come as strings or numbers,
//! unknown keys are ignored, `Date` accepted both nested under `date` and
//! flat as WeCom's own example has it) and rendered in WeCom's form (numbers
//! as strings, `Date` nested). The conversion to the domain's typed values
//! happens at the HTTP edge.

use serde::{Deserialize, Serialize};

use super::lenient::opt_text;

/// `{text, lang}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct LangText {
    /// The text.
    pub text: String,
    /// `zh_CN`, `en`, ...
    pub lang: String,
}

/// `apply_data`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct ApplyData {
    /// The values, one per control.
    pub contents: Vec<ApplyContent>,
}

/// One control's value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct ApplyContent {
    /// The control kind (`Text`, `Money`, ...).
    pub control: String,
    /// The control id.
    pub id: String,
    /// The title (detail responses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub title: Vec<LangText>,
    /// The value.
    pub value: ContentValue,
    /// 1 when hidden by an option relation (detail responses).
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "opt_u8")]
    pub hidden: Option<u8>,
}

/// The `value` object: one key per control kind.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct ContentValue {
    /// `Text`, `Textarea`.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub text: Option<String>,
    /// `Number`, a decimal string.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub new_number: Option<String>,
    /// `Money`, a decimal string.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "opt_text")]
    pub new_money: Option<String>,
    /// `Date`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<DateValue>,
    /// `Date` written flat (WeCom's example): `type`.
    #[serde(rename = "type", skip_serializing, deserialize_with = "opt_text")]
    pub flat_date_type: Option<String>,
    /// `Date` written flat: `s_timestamp`.
    #[serde(skip_serializing, deserialize_with = "opt_text")]
    pub s_timestamp: Option<String>,
    /// `Selector`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorValue>,
    /// `Contact` in member mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberValue>>,
    /// `Contact` in department mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departments: Option<Vec<DepartmentValue>>,
    /// `File`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileValue>>,
    /// `Table`: rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<TableRow>>,
    /// `Vacation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vacation: Option<VacationValue>,
    /// `Attendance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attendance: Option<AttendanceValue>,
    /// `PunchCorrection`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub punch_correction: Option<PunchCorrectionValue>,
    /// `DateRange`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_range: Option<DateRangeValue>,
    /// `Location`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<LocationValue>,
    /// `RelatedApproval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_approval: Option<Vec<RelatedApprovalValue>>,
    /// `Formula`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<FormulaValue>,
    /// `BankAccount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<BankAccountValue>,
    /// `PhoneNumber` (qiye's proposed shape; WeCom documents none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneValue>,
}

impl ContentValue {
    /// The `Date`, whichever way it was written; the nested form wins.
    pub fn date_value(&self) -> Option<DateValue> {
        self.date.clone().or_else(|| {
            Some(DateValue {
                kind: self.flat_date_type.clone()?,
                s_timestamp: self.s_timestamp.clone()?,
                timezone_info: None,
            })
        })
    }
}

/// `date{type, s_timestamp, timezone_info?}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct DateValue {
    /// `day` or `hour`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds, as a string.
    #[serde(deserialize_with = "text")]
    pub s_timestamp: String,
    /// Sent only when not UTC+8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone_info: Option<TimezoneInfo>,
}

/// `timezone_info{zone_offset, zone_desc}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct TimezoneInfo {
    /// Offset in hours, as a string (`"-5"`).
    #[serde(deserialize_with = "text")]
    pub zone_offset: String,
    /// Description.
    pub zone_desc: String,
}

/// `selector{type, options[]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct SelectorValue {
    /// `single` or `multi`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The chosen options.
    pub options: Vec<SelectorOption>,
}

/// A chosen option: its key (and, in details, its label).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct SelectorOption {
    /// The key.
    pub key: String,
    /// The label per language.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub value: Vec<LangText>,
}

/// `members[]{userid, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct MemberValue {
    /// The member.
    pub userid: String,
    /// Display name.
    pub name: String,
}

/// `departments[]{openapi_id, name}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct DepartmentValue {
    /// The department id, as a string.
    #[serde(deserialize_with = "text")]
    pub openapi_id: String,
    /// Its name.
    pub name: String,
}

/// `files[]{file_id, ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct FileValue {
    /// The media id.
    pub file_id: String,
    /// File name (details).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file_name: String,
}

/// A table row: `{list: [content…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct TableRow {
    /// The row's values.
    pub list: Vec<ApplyContent>,
}

/// `date_range{type, new_begin, new_end, new_duration, ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct DateRangeValue {
    /// `halfday` or `hour`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds.
    #[serde(deserialize_with = "i64_lenient")]
    pub new_begin: i64,
    /// Unix seconds.
    #[serde(deserialize_with = "i64_lenient")]
    pub new_end: i64,
    /// Seconds (computed by the server on submit).
    #[serde(deserialize_with = "i64_lenient")]
    pub new_duration: i64,
    /// Seconds in a working day.
    #[serde(skip_serializing_if = "Option::is_none", deserialize_with = "opt_i64")]
    pub perday_duration: Option<i64>,
    /// Sent only when not UTC+8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone_info: Option<TimezoneInfo>,
}

/// `slice_info{day_items[], duration, state}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct SliceInfo {
    /// Per day.
    pub day_items: Vec<DayItem>,
    /// Total seconds.
    #[serde(deserialize_with = "i64_lenient")]
    pub duration: i64,
    /// 1 computed, 2 edited.
    #[serde(deserialize_with = "i64_lenient")]
    pub state: i64,
}

/// `{daytime, duration}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct DayItem {
    /// The day, Unix seconds.
    #[serde(deserialize_with = "i64_lenient")]
    pub daytime: i64,
    /// Seconds.
    #[serde(deserialize_with = "i64_lenient")]
    pub duration: i64,
}

/// The `attendance` object (also inside `vacation`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct AttendanceValue {
    /// When.
    pub date_range: DateRangeValue,
    /// 1 leave, 3 trip, 4 outing, 5 overtime.
    #[serde(rename = "type", deserialize_with = "i64_lenient")]
    pub kind: i64,
    /// Split over days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_info: Option<SliceInfo>,
}

/// `vacation{selector, attendance}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct VacationValue {
    /// The leave type, as a single-choice selector (key = leave type id).
    pub selector: SelectorValue,
    /// When.
    pub attendance: AttendanceValue,
}

/// `punch_correction{state, time, version, daymonthyear}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct PunchCorrectionValue {
    /// State text.
    pub state: String,
    /// Unix seconds.
    #[serde(deserialize_with = "i64_lenient")]
    pub time: i64,
    /// Rules version.
    #[serde(deserialize_with = "i64_lenient")]
    pub version: i64,
    /// The day, Unix seconds.
    #[serde(deserialize_with = "i64_lenient")]
    pub daymonthyear: i64,
}

/// `location{latitude, longitude, title, address, time}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct LocationValue {
    /// Latitude, a decimal string.
    #[serde(deserialize_with = "text")]
    pub latitude: String,
    /// Longitude, a decimal string.
    #[serde(deserialize_with = "text")]
    pub longitude: String,
    /// Place name.
    pub title: String,
    /// Address.
    pub address: String,
    /// Unix seconds.
    #[serde(deserialize_with = "i64_lenient")]
    pub time: i64,
}

/// `related_approval[]{sp_no, ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct RelatedApprovalValue {
    /// The linked instance.
    #[serde(deserialize_with = "text")]
    pub sp_no: String,
}

/// `formula{value}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct FormulaValue {
    /// The computed value, a decimal string.
    #[serde(deserialize_with = "text")]
    pub value: String,
}

/// `bank_account{...}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct BankAccountValue {
    /// 1 corporate, 2 personal.
    #[serde(deserialize_with = "i64_lenient")]
    pub account_type: i64,
    /// Holder.
    pub account_name: String,
    /// Number.
    #[serde(deserialize_with = "text")]
    pub account_number: String,
    /// Remark.
    pub remark: String,
    /// The bank.
    pub bank: BankValue,
}

/// `bank{...}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct BankValue {
    /// Bank name.
    pub bank_alias: String,
    /// Bank code.
    pub bank_alias_code: String,
    /// Province.
    pub province: String,
    /// Province code.
    #[serde(deserialize_with = "i64_lenient")]
    pub province_code: i64,
    /// City.
    pub city: String,
    /// City code.
    #[serde(deserialize_with = "i64_lenient")]
    pub city_code: i64,
    /// Branch name.
    pub bank_branch_name: String,
    /// Branch id.
    pub bank_branch_id: String,
}

/// `phone{country_code, number}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(default)]
pub struct PhoneValue {
    /// Country calling code.
    #[serde(deserialize_with = "text")]
    pub country_code: String,
    /// National number.
    #[serde(deserialize_with = "text")]
    pub number: String,
}

fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_text(d).map(Option::unwrap_or_default)
}

fn opt_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    super::lenient::opt_i64(d)
}

fn i64_lenient<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    super::lenient::opt_i64(d).map(Option::unwrap_or_default)
}

fn opt_u8<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    super::lenient::opt_i64(d)?
        .map(|v| u8::try_from(v).map_err(|_| serde::de::Error::custom("expected 0 or 1")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_value_key_of_an_applyevent_body() {
        let body = json!({"contents": [
            {"control": "Text", "id": "Text-01", "value": {"text": "laptops"}},
            {"control": "Number", "id": "Number-01", "value": {"new_number": 700}},
            {"control": "Money", "id": "Money-01", "value": {"new_money": "700.50"}},
            {"control": "Date", "id": "Date-01", "value": {"date": {"type": "day", "s_timestamp": "1569859200"}}},
            {"control": "Date", "id": "Date-02", "value": {"type": "hour", "s_timestamp": 1569859200}},
            {"control": "Selector", "id": "Selector-01", "value": {"selector": {"type": "single", "options": [{"key": "option-1"}]}}},
            {"control": "Contact", "id": "Contact-01", "value": {"members": [{"userid": "bob", "name": "Bob"}]}},
            {"control": "Contact", "id": "Contact-02", "value": {"departments": [{"openapi_id": 2, "name": "Sales"}]}},
            {"control": "File", "id": "File-01", "value": {"files": [{"file_id": "m1"}]}},
            {"control": "Table", "id": "Table-01", "value": {"children": [{"list": [
                {"control": "Money", "id": "Money-11", "value": {"new_money": "10"}}]}]}},
            {"control": "Vacation", "id": "Vacation-01", "value": {"vacation": {
                "selector": {"type": "single", "options": [{"key": "1"}]},
                "attendance": {"date_range": {"type": "halfday", "new_begin": 1569859200, "new_end": 1569902400, "new_duration": 43200}, "type": 1}}}},
            {"control": "Attendance", "id": "Attendance-01", "value": {"attendance": {
                "date_range": {"type": "hour", "new_begin": "1569859200", "new_end": "1569866400", "new_duration": 7200}, "type": 5,
                "slice_info": {"day_items": [{"daytime": 1569859200, "duration": 7200}], "duration": 7200, "state": 1}}}},
            {"control": "PunchCorrection", "id": "PunchCorrection-01", "value": {"punch_correction": {"state": "缺卡", "time": 1569888000, "version": 1, "daymonthyear": 1569859200}}},
            {"control": "DateRange", "id": "DateRange-01", "value": {"date_range": {"type": "hour", "new_begin": 1, "new_end": 2, "new_duration": 1}}},
            {"control": "Location", "id": "Location-01", "value": {"location": {"latitude": "30.547239", "longitude": "104.063291", "title": "A", "address": "B", "time": 1569859200}}},
            {"control": "RelatedApproval", "id": "RelatedApproval-01", "value": {"related_approval": [{"sp_no": 201909270001u64}]}},
            {"control": "Formula", "id": "Formula-01", "value": {"formula": {"value": "5.0"}}},
            {"control": "BankAccount", "id": "BankAccount-01", "value": {"bank_account": {"account_type": 2, "account_name": "A", "account_number": "6222020200001234", "remark": "", "bank": {"bank_alias": "ICBC", "province_code": "11"}}}},
            {"control": "PhoneNumber", "id": "PhoneNumber-01", "value": {"phone": {"country_code": "86", "number": "13800000000"}}},
            {"control": "Tips", "id": "Tips-01", "value": {}, "unknown": true}
        ]});
        let data: ApplyData = serde_json::from_value(body).unwrap();
        assert_eq!(data.contents.len(), 20);
        let v = |i: usize| &data.contents[i].value;
        assert_eq!(v(1).new_number.as_deref(), Some("700"));
        assert_eq!(v(3).date_value().unwrap().s_timestamp, "1569859200");
        let flat = v(4).date_value().unwrap();
        assert_eq!(
            (flat.kind.as_str(), flat.s_timestamp.as_str()),
            ("hour", "1569859200")
        );
        assert_eq!(v(7).departments.as_ref().unwrap()[0].openapi_id, "2");
        assert_eq!(
            v(9).children.as_ref().unwrap()[0].list[0]
                .value
                .new_money
                .as_deref(),
            Some("10")
        );
        assert_eq!(
            v(11).attendance.as_ref().unwrap().date_range.new_begin,
            1569859200
        );
        assert_eq!(
            v(15).related_approval.as_ref().unwrap()[0].sp_no,
            "201909270001"
        );
        assert_eq!(v(17).bank_account.as_ref().unwrap().bank.province_code, 11);
    }

    #[test]
    fn renders_wecoms_form_and_round_trips() {
        let flat: ApplyContent = serde_json::from_value(
            json!({"control": "Date", "id": "Date-01", "value": {"type": "day", "s_timestamp": "1"}}),
        )
        .unwrap();
        let rendered = ApplyContent {
            value: ContentValue {
                date: flat.value.date_value(),
                ..ContentValue::default()
            },
            ..flat
        };
        let out = serde_json::to_value(&rendered).unwrap();
        assert_eq!(
            out,
            json!({"control": "Date", "id": "Date-01", "value": {"date": {"type": "day", "s_timestamp": "1"}}})
        );
        let back: ApplyContent = serde_json::from_value(out).unwrap();
        assert_eq!(back, rendered);
    }

    #[test]
    fn wrong_types_are_refused() {
        let bad = serde_json::from_value::<ApplyData>(
            json!({"contents": [{"control": "Text", "id": "T", "value": {"text": ["x"]}}]}),
        );
        assert!(bad.is_err());
        let bad = serde_json::from_value::<ApplyData>(
            json!({"contents": [{"control": "Contact", "id": "C", "value": {"members": "bob"}}]}),
        );
        assert!(bad.is_err());
    }
}
