//! Maintenance windows: when one is active, and when its next occurrence is.
//!
//! A window is one-off (`starts_at` to `ends_at`, UTC instants) or recurring: an RFC 5545
//! `RRULE` (parsed by the `rrule` crate) whose occurrences start at the local wall-clock time of
//! `dtstart` in an IANA `timezone` and last `duration_minutes`. Occurrences follow the zone's
//! daylight-saving rules: a 02:00 Europe/Berlin window starts at 01:00 UTC in winter and 00:00
//! UTC in summer. An occurrence whose local start falls in a spring-forward gap starts as long
//! after local midnight as its wall-clock time says (02:30 becomes 03:30 on that day); one in a
//! fall-back overlap starts at the earlier of the two instants (both as the `rrule` crate has it).
//! Windows are half-open: active from their start (inclusive) to their end (exclusive).

use crate::ValidationError;
use chrono::{NaiveDateTime, TimeZone};
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

/// Most occurrences looked at when evaluating a rule: a window's rule is walked from its
/// `dtstart`, so an hourly rule covers about eleven years before this bound stops the walk.
pub const MAX_OCCURRENCES: usize = 100_000;
/// Longest a recurring window may last: one week.
pub const MAX_DURATION_MINUTES: u32 = 7 * 24 * 60;

/// One occurrence of a window: `[starts_at, ends_at)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// When it starts (inclusive).
    pub starts_at: OffsetDateTime,
    /// When it ends (exclusive).
    pub ends_at: OffsetDateTime,
}

impl Occurrence {
    /// Whether `at` lies inside it.
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        self.starts_at <= at && at < self.ends_at
    }
}

/// When a window applies.
#[derive(Debug, Clone)]
pub enum WindowSchedule {
    /// Once, from `starts_at` to `ends_at`.
    OneOff(Occurrence),
    /// Every occurrence of a recurrence rule.
    Recurring(Box<Recurrence>),
}

/// A recurrence rule in a time zone, with its occurrences' length.
#[derive(Debug, Clone)]
pub struct Recurrence {
    rrule: String,
    dtstart: PrimitiveDateTime,
    duration_minutes: u32,
    timezone: String,
    set: rrule::RRuleSet,
}

/// Checks a one-off window's bounds.
///
/// # Errors
/// A [`ValidationError`] naming `ends_at` when it is not after `starts_at`.
pub fn one_off(
    starts_at: OffsetDateTime,
    ends_at: OffsetDateTime,
) -> Result<WindowSchedule, ValidationError> {
    if ends_at <= starts_at {
        return Err(ValidationError::new("ends_at", "must be after starts_at"));
    }
    Ok(WindowSchedule::OneOff(Occurrence { starts_at, ends_at }))
}

/// Parses a local date-time without offset (`2026-03-29T02:00:00`, seconds optional).
///
/// # Errors
/// A [`ValidationError`] naming `dtstart` when it is no such time (an offset or `Z` is refused:
/// the zone is `timezone`'s).
pub fn parse_dtstart(s: &str) -> Result<PrimitiveDateTime, ValidationError> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            ValidationError::new(
                "dtstart",
                "must be a local date-time without offset, like 2026-03-29T02:00:00",
            )
        })?;
    to_primitive(naive).ok_or_else(|| ValidationError::new("dtstart", "out of range"))
}

impl Recurrence {
    /// Builds a rule from its four fields, each validated.
    ///
    /// # Errors
    /// A [`ValidationError`] naming `timezone` (not an IANA zone name), `duration_minutes`
    /// (outside 1 to [`MAX_DURATION_MINUTES`]), `dtstart` (a local time the zone skips, or one
    /// it repeats) or `rrule` (not an RFC 5545 rule, a `DTSTART` inside it, or a frequency
    /// finer than hourly).
    pub fn new(
        rrule: &str,
        dtstart: PrimitiveDateTime,
        duration_minutes: i64,
        timezone: &str,
    ) -> Result<Self, ValidationError> {
        let tz: chrono_tz::Tz = timezone.parse().map_err(|_| {
            ValidationError::new("timezone", "must be an IANA time zone name, like Europe/Berlin")
        })?;
        let duration_minutes = u32::try_from(duration_minutes)
            .ok()
            .filter(|m| (1..=MAX_DURATION_MINUTES).contains(m))
            .ok_or_else(|| {
                ValidationError::new("duration_minutes", format!("must be 1 to {MAX_DURATION_MINUTES}"))
            })?;
        let tz = rrule::Tz::Tz(tz);
        let start = match tz.from_local_datetime(&to_naive(dtstart)) {
            chrono::LocalResult::Single(t) => t,
            chrono::LocalResult::Ambiguous(..) => {
                return Err(ValidationError::new(
                    "dtstart",
                    "occurs twice in this time zone (a clock change); pick another time",
                ));
            }
            chrono::LocalResult::None => {
                return Err(ValidationError::new(
                    "dtstart",
                    "does not exist in this time zone (a clock change)",
                ));
            }
        };
        let text = rrule.trim();
        let text = text.strip_prefix("RRULE:").unwrap_or(text);
        if text.is_empty() || text.len() > 500 || text.contains(['\n', '\r']) || text.contains("DTSTART") {
            return Err(ValidationError::new("rrule", "must be one RRULE value of at most 500 characters"));
        }
        let parsed: rrule::RRule<rrule::Unvalidated> =
            text.parse().map_err(|e: rrule::RRuleError| ValidationError::new("rrule", e.to_string()))?;
        if matches!(parsed.get_freq(), rrule::Frequency::Minutely | rrule::Frequency::Secondly) {
            return Err(ValidationError::new(
                "rrule",
                "FREQ must be HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY",
            ));
        }
        let set = parsed.build(start).map_err(|e| ValidationError::new("rrule", e.to_string()))?.limit();
        Ok(Self { rrule: text.to_string(), dtstart, duration_minutes, timezone: timezone.to_string(), set })
    }

    /// The rule as given (without an `RRULE:` prefix).
    pub fn rrule(&self) -> &str {
        &self.rrule
    }

    /// The first occurrence's local start.
    pub fn dtstart(&self) -> PrimitiveDateTime {
        self.dtstart
    }

    /// Each occurrence's length.
    pub fn duration_minutes(&self) -> u32 {
        self.duration_minutes
    }

    /// The IANA zone name.
    pub fn timezone(&self) -> &str {
        &self.timezone
    }

    /// Occurrences in start order, at most [`MAX_OCCURRENCES`].
    fn occurrences(&self) -> impl Iterator<Item = Occurrence> + '_ {
        let length = Duration::minutes(i64::from(self.duration_minutes));
        self.set.clone().into_iter().take(MAX_OCCURRENCES).filter_map(move |start| {
            let starts_at = OffsetDateTime::from_unix_timestamp(start.timestamp()).ok()?;
            Some(Occurrence { starts_at, ends_at: starts_at + length })
        })
    }
}

impl WindowSchedule {
    /// The occurrence active at `at`, if any (the latest-starting one when several overlap).
    pub fn active_at(&self, at: OffsetDateTime) -> Option<Occurrence> {
        match self {
            Self::OneOff(o) => o.contains(at).then_some(*o),
            Self::Recurring(r) => {
                r.occurrences().take_while(|o| o.starts_at <= at).filter(|o| o.contains(at)).last()
            }
        }
    }

    /// The first occurrence starting after `at`.
    pub fn next_after(&self, at: OffsetDateTime) -> Option<Occurrence> {
        match self {
            Self::OneOff(o) => (o.starts_at > at).then_some(*o),
            Self::Recurring(r) => r.occurrences().find(|o| o.starts_at > at),
        }
    }

    /// The occurrences overlapping `[from, until)`, in start order.
    pub fn between(&self, from: OffsetDateTime, until: OffsetDateTime) -> Vec<Occurrence> {
        let overlaps = |o: &Occurrence| o.starts_at < until && o.ends_at > from;
        match self {
            Self::OneOff(o) => overlaps(o).then_some(*o).into_iter().collect(),
            Self::Recurring(r) => {
                r.occurrences().take_while(|o| o.starts_at < until).filter(overlaps).collect()
            }
        }
    }
}

/// Merges occurrences (of any windows) into disjoint intervals in start order.
pub fn merge(mut occurrences: Vec<Occurrence>) -> Vec<Occurrence> {
    occurrences.sort_by_key(|o| o.starts_at);
    let mut out: Vec<Occurrence> = Vec::with_capacity(occurrences.len());
    for o in occurrences {
        match out.last_mut() {
            Some(last) if o.starts_at <= last.ends_at => last.ends_at = last.ends_at.max(o.ends_at),
            _ => out.push(o),
        }
    }
    out
}

fn to_naive(t: PrimitiveDateTime) -> NaiveDateTime {
    let date = chrono::NaiveDate::from_ymd_opt(t.year(), u32::from(u8::from(t.month())), u32::from(t.day()))
        .expect("a valid calendar date stays valid");
    date.and_hms_opt(u32::from(t.hour()), u32::from(t.minute()), u32::from(t.second()))
        .expect("a valid time of day stays valid")
}

fn to_primitive(n: NaiveDateTime) -> Option<PrimitiveDateTime> {
    use chrono::{Datelike, Timelike};
    let month = time::Month::try_from(u8::try_from(n.month()).ok()?).ok()?;
    let date = time::Date::from_calendar_date(n.year(), month, u8::try_from(n.day()).ok()?).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(n.hour()).ok()?,
        u8::try_from(n.minute()).ok()?,
        u8::try_from(n.second()).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, clock))
}

#[cfg(test)]
#[path = "maintenance_tests.rs"]
mod tests;
