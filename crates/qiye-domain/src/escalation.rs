//! Escalation of urgent messages through a second channel.
//!
//! An urgent message that its recipient has not read `first_after_secs`
//! after it was sent is re-sent by e-mail and/or SMS; while it stays unread
//! (unacknowledged) the second channel is tried again every
//! `repeat_every_secs`, at most `max_attempts` times in all. This module only
//! decides *when*; sending is the `SecondChannel` port of `qiye-app`.
//!
//! [`EscalationPolicy::next_attempt_at`] works in Unix seconds;
//! [`EscalationPolicy::next_attempt_at_ms`] in milliseconds, like entries'
//! `at` and the rows of [`Escalation`].

use crate::ids::{CorpId, UserId};
use crate::message::{ConvId, Seq};

/// The shortest delay before the first escalation (1 minute).
pub const FIRST_AFTER_MIN_SECS: u32 = 60;
/// The longest delay before the first escalation (1 day).
pub const FIRST_AFTER_MAX_SECS: u32 = 86_400;
/// The shortest interval between two escalations (5 minutes).
pub const REPEAT_EVERY_MIN_SECS: u32 = 300;
/// The longest interval between two escalations (1 day).
pub const REPEAT_EVERY_MAX_SECS: u32 = 86_400;
/// The fewest escalation attempts a policy may make.
pub const MAX_ATTEMPTS_MIN: u32 = 1;
/// The most escalation attempts a policy may make.
pub const MAX_ATTEMPTS_MAX: u32 = 10;

/// Why an escalation policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscalationError {
    /// The first delay is outside
    /// [`FIRST_AFTER_MIN_SECS`]`..=`[`FIRST_AFTER_MAX_SECS`].
    #[error(
        "the first escalation must come {FIRST_AFTER_MIN_SECS} to {FIRST_AFTER_MAX_SECS} seconds after sending, not {0}"
    )]
    FirstAfterOutOfRange(u32),
    /// The repeat interval is outside
    /// [`REPEAT_EVERY_MIN_SECS`]`..=`[`REPEAT_EVERY_MAX_SECS`].
    #[error(
        "escalations must repeat every {REPEAT_EVERY_MIN_SECS} to {REPEAT_EVERY_MAX_SECS} seconds, not {0}"
    )]
    RepeatEveryOutOfRange(u32),
    /// The number of attempts is outside
    /// [`MAX_ATTEMPTS_MIN`]`..=`[`MAX_ATTEMPTS_MAX`].
    #[error("an escalation makes {MAX_ATTEMPTS_MIN} to {MAX_ATTEMPTS_MAX} attempts, not {0}")]
    MaxAttemptsOutOfRange(u32),
    /// Neither e-mail nor SMS is chosen.
    #[error("an escalation needs at least one channel (e-mail or SMS)")]
    NoChannel,
}

/// When and how an unread urgent message is re-sent through the second
/// channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// Seconds after sending before the first escalation.
    pub first_after_secs: u32,
    /// Seconds between two escalations.
    pub repeat_every_secs: u32,
    /// How many escalations at most.
    pub max_attempts: u32,
    /// Whether escalations go out by e-mail.
    pub email: bool,
    /// Whether escalations go out by SMS.
    pub sms: bool,
}

impl Default for EscalationPolicy {
    /// After 5 minutes, then every 30 minutes, 3 times in all, by e-mail.
    fn default() -> Self {
        Self {
            first_after_secs: 300,
            repeat_every_secs: 1800,
            max_attempts: 3,
            email: true,
            sms: false,
        }
    }
}

impl EscalationPolicy {
    /// Checks every limit; the first violated one is reported.
    pub fn validate(&self) -> Result<(), EscalationError> {
        if !(FIRST_AFTER_MIN_SECS..=FIRST_AFTER_MAX_SECS).contains(&self.first_after_secs) {
            return Err(EscalationError::FirstAfterOutOfRange(self.first_after_secs));
        }
        if !(REPEAT_EVERY_MIN_SECS..=REPEAT_EVERY_MAX_SECS).contains(&self.repeat_every_secs) {
            return Err(EscalationError::RepeatEveryOutOfRange(
                self.repeat_every_secs,
            ));
        }
        if !(MAX_ATTEMPTS_MIN..=MAX_ATTEMPTS_MAX).contains(&self.max_attempts) {
            return Err(EscalationError::MaxAttemptsOutOfRange(self.max_attempts));
        }
        if !self.email && !self.sms {
            return Err(EscalationError::NoChannel);
        }
        Ok(())
    }

    /// When the next escalation of a message sent at `sent_at` (Unix
    /// seconds) is due, after `attempts_done` escalations: `sent_at +
    /// first_after + attempts_done * repeat_every`. `None` once
    /// `max_attempts` are done (or if the time would not fit an `i64`).
    pub fn next_attempt_at(&self, sent_at: i64, attempts_done: u32) -> Option<i64> {
        if attempts_done >= self.max_attempts {
            return None;
        }
        let repeats = i64::from(attempts_done).checked_mul(i64::from(self.repeat_every_secs))?;
        sent_at
            .checked_add(i64::from(self.first_after_secs))?
            .checked_add(repeats)
    }

    /// [`EscalationPolicy::next_attempt_at`] in milliseconds: when the next
    /// escalation of a message sent at `sent_at_ms` (Unix milliseconds, as
    /// entries' `at`) is due, after `attempts_done` escalations. `None` once
    /// `max_attempts` are done (or if the time would not fit an `i64`).
    pub fn next_attempt_at_ms(&self, sent_at_ms: i64, attempts_done: u32) -> Option<i64> {
        if attempts_done >= self.max_attempts {
            return None;
        }
        let repeats_ms = i64::from(attempts_done)
            .checked_mul(i64::from(self.repeat_every_secs))?
            .checked_mul(1000)?;
        sent_at_ms
            .checked_add(i64::from(self.first_after_secs) * 1000)?
            .checked_add(repeats_ms)
    }

    /// Whether an escalation is due at `now` (Unix seconds).
    pub fn is_due(&self, now: i64, sent_at: i64, attempts_done: u32) -> bool {
        self.next_attempt_at(sent_at, attempts_done)
            .is_some_and(|at| at <= now)
    }
}

/// Where one recipient's escalation of one urgent message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscalationState {
    /// Unread: the second channel is tried at `next_at`.
    Pending,
    /// The member read or acknowledged the message; nothing more is sent.
    Acknowledged,
    /// Every attempt the policy allows was made (or no channel reaches the
    /// member).
    Exhausted,
    /// The message was recalled, or the member left the conversation or
    /// the corp.
    Cancelled,
}

impl EscalationState {
    /// The state's name (`pending`, `acknowledged`, `exhausted`,
    /// `cancelled`), as stored.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Acknowledged => "acknowledged",
            Self::Exhausted => "exhausted",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state with this name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Acknowledged,
            Self::Exhausted,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// One recipient's escalation of one urgent entry, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The corp.
    pub corp: CorpId,
    /// The conversation of the urgent entry.
    pub conv: ConvId,
    /// The urgent entry's sequence.
    pub seq: Seq,
    /// The recipient.
    pub userid: UserId,
    /// When the entry was sent (ms).
    pub sent_at: i64,
    /// When the next attempt is due (ms); meaningful while pending.
    pub next_at: i64,
    /// Attempts made (counted by the policy).
    pub attempts: u32,
    /// Consecutive tries of the current attempt that found the channel
    /// unavailable (retried without counting the attempt).
    pub failures: u32,
    /// Where it stands.
    pub state: EscalationState,
    /// The last channel error, if any.
    pub last_error: Option<String>,
    /// The recipient's read cursor in the conversation when the row was
    /// read; `None` when they are no longer a member.
    pub read_seq: Option<Seq>,
}

/// What a finished attempt (or a decision not to send) writes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationUpdate {
    /// Attempts made now.
    pub attempts: u32,
    /// Unavailable tries of the current attempt.
    pub failures: u32,
    /// When to try next (ms), for a pending row.
    pub next_at: i64,
    /// The new state.
    pub state: EscalationState,
    /// The error to remember (`None` clears it).
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn policy(first: u32, repeat: u32, attempts: u32, email: bool, sms: bool) -> EscalationPolicy {
        EscalationPolicy {
            first_after_secs: first,
            repeat_every_secs: repeat,
            max_attempts: attempts,
            email,
            sms,
        }
    }

    #[test]
    fn the_default_is_five_minutes_then_every_half_hour_three_times_by_email() {
        let p = EscalationPolicy::default();
        assert_eq!(p, policy(300, 1800, 3, true, false));
        assert_eq!(p.validate(), Ok(()));
    }

    #[rstest]
    #[case(policy(60, 300, 1, true, false))]
    #[case(policy(86_400, 86_400, 10, false, true))]
    #[case(policy(61, 301, 9, true, true))]
    fn limits_are_inclusive(#[case] p: EscalationPolicy) {
        assert_eq!(p.validate(), Ok(()));
    }

    #[rstest]
    #[case(
        policy(59, 300, 1, true, false),
        EscalationError::FirstAfterOutOfRange(59)
    )]
    #[case(
        policy(0, 300, 1, true, false),
        EscalationError::FirstAfterOutOfRange(0)
    )]
    #[case(
        policy(86_401, 300, 1, true, false),
        EscalationError::FirstAfterOutOfRange(86_401)
    )]
    #[case(
        policy(60, 299, 1, true, false),
        EscalationError::RepeatEveryOutOfRange(299)
    )]
    #[case(
        policy(60, 86_401, 1, true, false),
        EscalationError::RepeatEveryOutOfRange(86_401)
    )]
    #[case(
        policy(60, 300, 0, true, false),
        EscalationError::MaxAttemptsOutOfRange(0)
    )]
    #[case(
        policy(60, 300, 11, true, false),
        EscalationError::MaxAttemptsOutOfRange(11)
    )]
    #[case(policy(60, 300, 1, false, false), EscalationError::NoChannel)]
    fn out_of_range_policies_are_refused(
        #[case] p: EscalationPolicy,
        #[case] expected: EscalationError,
    ) {
        assert_eq!(p.validate(), Err(expected));
    }

    #[test]
    fn attempts_follow_the_first_delay_then_the_interval_until_exhausted() {
        let p = EscalationPolicy::default();
        let sent = 1_700_000_000;
        assert_eq!(p.next_attempt_at(sent, 0), Some(sent + 300));
        assert_eq!(p.next_attempt_at(sent, 1), Some(sent + 300 + 1800));
        assert_eq!(p.next_attempt_at(sent, 2), Some(sent + 300 + 3600));
        assert_eq!(p.next_attempt_at(sent, 3), None);
        assert_eq!(p.next_attempt_at(sent, u32::MAX), None);
    }

    #[test]
    fn due_means_the_next_attempt_time_has_come() {
        let p = EscalationPolicy::default();
        let sent = 1_000;
        assert!(!p.is_due(sent + 299, sent, 0));
        assert!(p.is_due(sent + 300, sent, 0));
        assert!(!p.is_due(sent + 2099, sent, 1));
        assert!(p.is_due(sent + 2100, sent, 1));
        assert!(!p.is_due(i64::MAX, sent, 3));
    }

    #[test]
    fn milliseconds_follow_the_same_schedule_as_seconds() {
        let p = EscalationPolicy::default();
        let sent_ms = 1_700_000_000_123;
        assert_eq!(p.next_attempt_at_ms(sent_ms, 0), Some(sent_ms + 300_000));
        assert_eq!(
            p.next_attempt_at_ms(sent_ms, 2),
            Some(sent_ms + 300_000 + 3_600_000)
        );
        assert_eq!(p.next_attempt_at_ms(sent_ms, 3), None);
        assert_eq!(p.next_attempt_at_ms(i64::MAX - 10, 0), None);
        for n in 0..3 {
            assert_eq!(
                p.next_attempt_at_ms(1_000_000, n),
                p.next_attempt_at(1_000, n).map(|s| s * 1000)
            );
        }
    }

    #[test]
    fn a_time_past_i64_is_no_attempt_rather_than_a_panic() {
        let p = EscalationPolicy::default();
        assert_eq!(p.next_attempt_at(i64::MAX - 10, 0), None);
    }

    fn valid_policy() -> impl Strategy<Value = EscalationPolicy> {
        (
            FIRST_AFTER_MIN_SECS..=FIRST_AFTER_MAX_SECS,
            REPEAT_EVERY_MIN_SECS..=REPEAT_EVERY_MAX_SECS,
            MAX_ATTEMPTS_MIN..=MAX_ATTEMPTS_MAX,
            any::<bool>(),
        )
            .prop_map(|(first, repeat, attempts, email)| {
                policy(first, repeat, attempts, email, !email)
            })
    }

    proptest! {
        #[test]
        fn a_valid_policy_schedules_exactly_max_attempts_strictly_later_each_time(
            p in valid_policy(),
            sent in -4_000_000_000i64..4_000_000_000,
        ) {
            prop_assert_eq!(p.validate(), Ok(()));
            let times: Vec<i64> = (0..)
                .map_while(|n| p.next_attempt_at(sent, n))
                .collect();
            prop_assert_eq!(times.len(), p.max_attempts as usize);
            prop_assert_eq!(times[0], sent + i64::from(p.first_after_secs));
            for pair in times.windows(2) {
                prop_assert_eq!(pair[1] - pair[0], i64::from(p.repeat_every_secs));
            }
            prop_assert!(times[0] > sent);
        }
    }
}
