//! Unit tests of maintenance windows: validation, recurrence across clock changes, merging.

use super::*;
use time::macros::datetime;

fn recurring(rule: &str, dtstart: &str, minutes: i64, tz: &str) -> WindowSchedule {
    WindowSchedule::Recurring(Box::new(
        Recurrence::new(rule, parse_dtstart(dtstart).unwrap(), minutes, tz).unwrap(),
    ))
}

fn field(r: Result<Recurrence, ValidationError>) -> String {
    r.expect_err("invalid").field
}

#[test]
fn a_one_off_window_is_active_from_its_start_until_just_before_its_end() {
    let w = one_off(datetime!(2026-05-01 10:00 UTC), datetime!(2026-05-01 11:00 UTC)).unwrap();
    assert!(w.active_at(datetime!(2026-05-01 09:59:59 UTC)).is_none());
    assert!(w.active_at(datetime!(2026-05-01 10:00 UTC)).is_some());
    assert!(w.active_at(datetime!(2026-05-01 10:59:59 UTC)).is_some());
    assert!(w.active_at(datetime!(2026-05-01 11:00 UTC)).is_none());
    assert_eq!(
        w.next_after(datetime!(2026-05-01 09:00 UTC)).unwrap().starts_at,
        datetime!(2026-05-01 10:00 UTC)
    );
    assert!(w.next_after(datetime!(2026-05-01 10:00 UTC)).is_none());
}

#[test]
fn a_one_off_window_must_end_after_it_starts() {
    let at = datetime!(2026-05-01 10:00 UTC);
    assert_eq!(one_off(at, at).unwrap_err().field, "ends_at");
    assert_eq!(one_off(at, at - Duration::minutes(1)).unwrap_err().field, "ends_at");
}

#[test]
fn a_weekly_new_york_window_follows_the_march_clock_change() {
    // Sundays 22:00-00:00 New York: 03:00Z under EST (UTC-5), 02:00Z under EDT (UTC-4, from 8 March 2026).
    let w = recurring("FREQ=WEEKLY;BYDAY=SU", "2026-03-01T22:00:00", 120, "America/New_York");
    assert!(w.active_at(datetime!(2026-03-02 02:30 UTC)).is_none(), "EST: not yet");
    assert!(w.active_at(datetime!(2026-03-02 03:00 UTC)).is_some());
    assert!(w.active_at(datetime!(2026-03-02 04:59 UTC)).is_some());
    assert!(w.active_at(datetime!(2026-03-02 05:00 UTC)).is_none());
    let next = w.next_after(datetime!(2026-03-02 05:00 UTC)).unwrap();
    assert_eq!(
        next,
        Occurrence { starts_at: datetime!(2026-03-09 02:00 UTC), ends_at: datetime!(2026-03-09 04:00 UTC) }
    );
    assert!(w.active_at(datetime!(2026-03-09 02:30 UTC)).is_some(), "EDT: an hour earlier in UTC");
    assert!(w.active_at(datetime!(2026-03-09 04:30 UTC)).is_none());
}

#[test]
fn a_daily_berlin_window_follows_both_clock_changes_of_2026() {
    // 01:00-02:00 Berlin every day: 00:00Z under CET, 23:00Z the day before under CEST.
    let w = recurring("FREQ=DAILY", "2026-03-27T01:00:00", 60, "Europe/Berlin");
    assert!(w.active_at(datetime!(2026-03-29 00:30 UTC)).is_some(), "29 March, still CET at 01:00");
    assert!(w.active_at(datetime!(2026-03-29 23:30 UTC)).is_some(), "30 March 01:00 CEST");
    assert!(w.active_at(datetime!(2026-03-30 00:30 UTC)).is_none());
    assert!(w.active_at(datetime!(2026-10-24 23:30 UTC)).is_some(), "25 October 01:00 CEST");
    assert!(w.active_at(datetime!(2026-10-26 00:30 UTC)).is_some(), "26 October 01:00 CET");
    assert!(w.active_at(datetime!(2026-10-25 23:30 UTC)).is_none());
}

#[test]
fn an_occurrence_in_the_spring_gap_starts_after_the_gap_and_one_in_the_autumn_overlap_at_the_first_instant() {
    let w = recurring("FREQ=DAILY", "2026-03-27T02:30:00", 30, "Europe/Berlin");
    // 29 March 02:30 does not exist in Berlin: 2.5 h after midnight is 03:30 CEST (01:30Z).
    let gap = w.next_after(datetime!(2026-03-28 23:00 UTC)).unwrap();
    assert_eq!(gap.starts_at, datetime!(2026-03-29 01:30 UTC));
    // 25 October 02:30 happens twice: the CEST one (00:30Z) is taken.
    let overlap = w.next_after(datetime!(2026-10-24 23:00 UTC)).unwrap();
    assert_eq!(overlap.starts_at, datetime!(2026-10-25 00:30 UTC));
}

#[test]
fn a_rule_with_a_count_ends() {
    let w = recurring("RRULE:FREQ=DAILY;COUNT=2", "2026-01-01T00:00", 10, "UTC");
    assert_eq!(w.between(datetime!(2025-12-01 00:00 UTC), datetime!(2026-02-01 00:00 UTC)).len(), 2);
    assert!(w.next_after(datetime!(2026-01-02 00:00 UTC)).is_none());
    assert!(w.active_at(datetime!(2026-01-03 00:05 UTC)).is_none());
}

#[test]
fn each_recurring_field_is_validated_by_name() {
    let at = parse_dtstart("2026-01-01T00:00:00").unwrap();
    assert_eq!(field(Recurrence::new("FREQ=DAILY", at, 60, "Mars/Olympus")), "timezone");
    assert_eq!(field(Recurrence::new("FREQ=DAILY", at, 0, "UTC")), "duration_minutes");
    assert_eq!(field(Recurrence::new("FREQ=DAILY", at, 20_000, "UTC")), "duration_minutes");
    assert_eq!(field(Recurrence::new("FREQ=SOMETIMES", at, 60, "UTC")), "rrule");
    assert_eq!(field(Recurrence::new("FREQ=DAILY;BYDAY=XX", at, 60, "UTC")), "rrule");
    assert_eq!(field(Recurrence::new("FREQ=MINUTELY;BYSECOND=0", at, 60, "UTC")), "rrule");
    assert_eq!(field(Recurrence::new("", at, 60, "UTC")), "rrule");
    let gap = parse_dtstart("2026-03-29T02:30:00").unwrap();
    assert_eq!(field(Recurrence::new("FREQ=DAILY", gap, 60, "Europe/Berlin")), "dtstart");
    assert_eq!(parse_dtstart("2026-01-01T00:00:00Z").unwrap_err().field, "dtstart");
    assert_eq!(parse_dtstart("tomorrow").unwrap_err().field, "dtstart");
}

#[test]
fn overlapping_occurrences_merge() {
    let o = |a: i64, b: i64| Occurrence {
        starts_at: OffsetDateTime::UNIX_EPOCH + Duration::minutes(a),
        ends_at: OffsetDateTime::UNIX_EPOCH + Duration::minutes(b),
    };
    assert_eq!(merge(vec![o(30, 40), o(0, 10), o(5, 20), o(20, 25)]), vec![o(0, 25), o(30, 40)]);
}
