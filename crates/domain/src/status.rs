//! The status machine: `pending → up | down`, with confirmation thresholds and an ordering guard.
//!
//! A monitor goes `down` only after `failure_threshold` consecutive failed checks and back `up`
//! after `recovery_threshold` consecutive successes. The first `pending → up` is a transition
//! but notifies no one. A check whose due time is not newer than the last applied one is stale
//! and changes nothing, whatever order replicas finish in.
//!
//! Slowness is confirmed the same way, beside the status: `failure_threshold` degraded checks in
//! a row set [`MonitorState::degraded`] and `recovery_threshold` fast successes in a row clear
//! it; a failed check breaks either run, and a confirmed `down` clears it (the `down` says more). It is what `monitor.degraded`
//! alerts follow, so one slow check does not page anyone.

use serde::{Deserialize, Serialize};

/// A monitor's current status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitorStatus {
    /// Created or resumed, not yet confirmed either way.
    Pending,
    /// Confirmed healthy.
    Up,
    /// Confirmed failing.
    Down,
    /// Not scheduled; checks already in flight are ignored.
    Paused,
}

impl MonitorStatus {
    /// The lowercase name stored in Postgres and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Up => "up",
            Self::Down => "down",
            Self::Paused => "paused",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            "paused" => Some(Self::Paused),
            _ => None,
        }
    }
}

/// Confirmation thresholds: consecutive checks needed before a status changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Consecutive failed checks before `down` (at least 1).
    pub failure: u16,
    /// Consecutive successful checks before `up` (at least 1).
    pub recovery: u16,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { failure: 2, recovery: 1 }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckOutcome {
    /// The probe succeeded.
    Up,
    /// The probe failed (error, timeout or unexpected status).
    Down,
    /// The probe succeeded but slowly (above the monitor's `degraded_latency_ms`): counts as a
    /// success for the status machine, so it never opens an incident, and is shown and counted
    /// apart in the checks and stats.
    Degraded,
}

impl CheckOutcome {
    /// The lowercase name stored in Postgres.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Degraded => "degraded",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "up" => Some(Self::Up),
            "down" => Some(Self::Down),
            "degraded" => Some(Self::Degraded),
            _ => None,
        }
    }

    /// Whether the status machine counts it as a success (`up` or `degraded`).
    pub fn is_success(self) -> bool {
        !matches!(self, Self::Down)
    }
}

/// The status machine's memory for one monitor, as stored in `monitor_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    /// Current status.
    pub status: MonitorStatus,
    /// Failed checks in a row, up to the latest applied one.
    pub consecutive_failures: u32,
    /// Successful checks in a row, up to the latest applied one.
    pub consecutive_successes: u32,
    /// Due time (Unix ms) of the latest applied check; older checks are stale.
    pub last_due_at_ms: i64,
    /// Confirmed slow: `failure` degraded checks in a row set it, `recovery` fast successes in
    /// a row (or a confirmed `down`) clear it.
    pub degraded: bool,
    /// Checks in a row that disagree with `degraded` (slow ones while it is clear, fast ones
    /// while it is set): how far a change of it has got.
    pub degraded_streak: u32,
}

impl MonitorState {
    /// The state of a new or resumed monitor.
    pub fn pending() -> Self {
        Self {
            status: MonitorStatus::Pending,
            consecutive_failures: 0,
            consecutive_successes: 0,
            last_due_at_ms: i64::MIN,
            degraded: false,
            degraded_streak: 0,
        }
    }
}

/// A status change produced by one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Status before the check.
    pub from: MonitorStatus,
    /// Status after the check.
    pub to: MonitorStatus,
    /// Whether channels are told: false only for the first `pending → up`.
    pub notify: bool,
}

/// Applies one check to `state` and returns the new state and the transition, if any.
///
/// `due_at_ms` is the check's scheduled time (Unix ms), which orders the checks of one monitor:
/// a check not newer than `state.last_due_at_ms` returns the state unchanged and no transition.
/// A paused monitor ignores checks.
pub fn apply_check(
    state: &MonitorState,
    outcome: CheckOutcome,
    due_at_ms: i64,
    thresholds: Thresholds,
) -> (MonitorState, Option<Transition>) {
    if due_at_ms <= state.last_due_at_ms || state.status == MonitorStatus::Paused {
        return (*state, None);
    }
    let mut next = *state;
    next.last_due_at_ms = due_at_ms;
    if outcome.is_success() {
        next.consecutive_successes = next.consecutive_successes.saturating_add(1);
        next.consecutive_failures = 0;
    } else {
        next.consecutive_failures = next.consecutive_failures.saturating_add(1);
        next.consecutive_successes = 0;
    }
    let failed_enough = next.consecutive_failures >= u32::from(thresholds.failure.max(1));
    let recovered_enough = next.consecutive_successes >= u32::from(thresholds.recovery.max(1));
    let to = match state.status {
        MonitorStatus::Pending | MonitorStatus::Up if failed_enough => MonitorStatus::Down,
        MonitorStatus::Pending | MonitorStatus::Down if recovered_enough => MonitorStatus::Up,
        unchanged => unchanged,
    };
    next.status = to;
    apply_latency(&mut next, outcome, thresholds);
    if to == state.status {
        return (next, None);
    }
    let notify = !(state.status == MonitorStatus::Pending && to == MonitorStatus::Up);
    (next, Some(Transition { from: state.status, to, notify }))
}

/// Moves the slowness latch ([`MonitorState::degraded`]) by one applied check, `state.status`
/// being already the status after it. A failed check breaks a run either way; a confirmed
/// `down` clears the latch, so slowness is confirmed anew after recovery.
fn apply_latency(state: &mut MonitorState, outcome: CheckOutcome, thresholds: Thresholds) {
    let disagrees = match outcome {
        CheckOutcome::Down => {
            state.degraded &= state.status != MonitorStatus::Down;
            state.degraded_streak = 0;
            return;
        }
        CheckOutcome::Degraded => !state.degraded,
        CheckOutcome::Up => state.degraded,
    };
    if !disagrees {
        state.degraded_streak = 0;
        return;
    }
    state.degraded_streak = state.degraded_streak.saturating_add(1);
    let needed = if state.degraded { thresholds.recovery } else { thresholds.failure };
    if state.degraded_streak >= u32::from(needed.max(1)) {
        state.degraded = !state.degraded;
        state.degraded_streak = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckOutcome::{Down as F, Up as S};
    use MonitorStatus::*;

    const T: Thresholds = Thresholds { failure: 2, recovery: 1 };

    /// Runs outcomes at due times 1, 2, 3, … and returns the final state and every transition.
    fn run(start: MonitorState, outcomes: &[CheckOutcome], t: Thresholds) -> (MonitorState, Vec<Transition>) {
        let mut state = start;
        let mut seen = Vec::new();
        for (i, o) in outcomes.iter().enumerate() {
            let (next, tr) = apply_check(&state, *o, i as i64 + 1, t);
            state = next;
            seen.extend(tr);
        }
        (state, seen)
    }

    fn at(status: MonitorStatus) -> MonitorState {
        MonitorState { status, ..MonitorState::pending() }
    }

    #[test]
    fn first_success_confirms_up_without_notifying() {
        let (s, tr) = run(MonitorState::pending(), &[S], T);
        assert_eq!(s.status, Up);
        assert_eq!(tr, vec![Transition { from: Pending, to: Up, notify: false }]);
    }

    #[test]
    fn pending_goes_down_after_threshold_failures_and_notifies() {
        let (s, tr) = run(MonitorState::pending(), &[F], T);
        assert_eq!((s.status, tr.len()), (Pending, 0));
        let (s, tr) = run(MonitorState::pending(), &[F, F], T);
        assert_eq!(s.status, Down);
        assert_eq!(tr, vec![Transition { from: Pending, to: Down, notify: true }]);
    }

    #[test]
    fn monitor_goes_down_after_threshold_failures() {
        let (s, tr) = run(at(Up), &[F, F], T);
        assert_eq!(s.status, Down);
        assert_eq!(tr, vec![Transition { from: Up, to: Down, notify: true }]);
    }

    #[test]
    fn a_success_between_failures_resets_the_count() {
        let (s, tr) = run(at(Up), &[F, S, F, S, F], T);
        assert_eq!(s.status, Up);
        assert!(tr.is_empty());
    }

    #[test]
    fn recovery_needs_recovery_threshold_successes() {
        let t = Thresholds { failure: 1, recovery: 3 };
        let (s, tr) = run(at(Down), &[S, S], t);
        assert_eq!((s.status, tr.len()), (Down, 0));
        let (s, tr) = run(at(Down), &[S, S, F, S, S, S], t);
        assert_eq!(s.status, Up);
        assert_eq!(tr, vec![Transition { from: Down, to: Up, notify: true }]);
    }

    #[test]
    fn down_stays_down_on_more_failures_and_up_stays_up_on_successes() {
        assert!(run(at(Down), &[F, F, F], T).1.is_empty());
        assert!(run(at(Up), &[S, S, S], T).1.is_empty());
    }

    #[test]
    fn threshold_one_flips_on_a_single_check() {
        let t = Thresholds { failure: 1, recovery: 1 };
        let (_, tr) = run(at(Up), &[F, S, F], t);
        assert_eq!(tr.iter().map(|t| t.to).collect::<Vec<_>>(), vec![Down, Up, Down]);
    }

    #[test]
    fn a_stale_check_changes_nothing() {
        let state = MonitorState { last_due_at_ms: 10, ..at(Up) };
        assert_eq!(apply_check(&state, F, 10, T), (state, None));
        assert_eq!(apply_check(&state, F, 9, T), (state, None));
        let (next, _) = apply_check(&state, F, 11, T);
        assert_eq!((next.consecutive_failures, next.last_due_at_ms), (1, 11));
    }

    #[test]
    fn out_of_order_checks_cannot_undo_a_newer_result() {
        // Checks due at 1 and 2 fail (down); a success due at 3 recovers; a late failure due
        // at 2 arriving after it is ignored.
        let (s, _) = run(at(Up), &[F, F, S], T);
        assert_eq!(s.status, Up);
        let (after_late, tr) = apply_check(&s, F, 2, T);
        assert_eq!((after_late, tr), (s, None));
    }

    #[test]
    fn paused_monitors_ignore_checks() {
        let (s, tr) = run(at(Paused), &[F, F, F, S], T);
        assert_eq!((s.status, tr.len()), (Paused, 0));
    }

    #[test]
    fn every_status_name_round_trips() {
        for s in [Pending, Up, Down, Paused] {
            assert_eq!(MonitorStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MonitorStatus::parse("sick"), None);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn outcome() -> impl Strategy<Value = CheckOutcome> {
            prop_oneof![Just(S), Just(F)]
        }

        proptest! {
            /// Whatever the sequence, a transition to down is always preceded by exactly
            /// `failure` failures in a row, and one to up by `recovery` successes in a row.
            #[test]
            fn transitions_only_follow_enough_consecutive_outcomes(
                outcomes in proptest::collection::vec(outcome(), 0..60),
                failure in 1u16..5, recovery in 1u16..5,
            ) {
                let t = Thresholds { failure, recovery };
                let mut state = MonitorState::pending();
                for (i, o) in outcomes.iter().enumerate() {
                    let (next, tr) = apply_check(&state, *o, i as i64 + 1, t);
                    if let Some(tr) = tr {
                        let tail = &outcomes[..=i];
                        let (need, want) = match tr.to { Down => (failure, F), _ => (recovery, S) };
                        prop_assert!(tail.len() >= usize::from(need));
                        prop_assert!(tail[tail.len() - usize::from(need)..].iter().all(|x| *x == want));
                        prop_assert_ne!(tr.from, tr.to);
                        prop_assert_eq!(tr.notify, tr.from != Pending || tr.to != Up);
                    }
                    state = next;
                }
            }

            /// Applying the same check twice (a redelivery) changes nothing the second time.
            #[test]
            fn reapplying_a_check_is_a_no_op(
                outcomes in proptest::collection::vec(outcome(), 1..40),
            ) {
                let (state, _) = run(MonitorState::pending(), &outcomes, T);
                let last = outcomes.len() as i64;
                let again = apply_check(&state, outcomes[outcomes.len() - 1], last, T);
                prop_assert_eq!(again, (state, None));
            }
        }
    }

    #[test]
    fn degraded_checks_count_as_successes_and_never_open_an_incident() {
        use CheckOutcome::Degraded as D;
        let (state, seen) = run(at(Up), &[D, D, D, D], T);
        assert_eq!(state.status, Up);
        assert!(seen.is_empty());
        let (state, seen) = run(at(Up), &[F, D, F, D], T);
        assert_eq!((state.status, seen.len()), (Up, 0), "a degraded check breaks a run of failures");
        let (state, seen) = run(at(Down), &[D], T);
        assert_eq!(state.status, Up);
        assert_eq!(seen, vec![Transition { from: Down, to: Up, notify: true }]);
    }

    #[test]
    fn slowness_is_confirmed_and_cleared_like_a_status() {
        use CheckOutcome::Degraded as D;
        let t = Thresholds { failure: 2, recovery: 2 };
        let (state, _) = run(at(Up), &[D], t);
        assert!(!state.degraded, "one slow check is not enough");
        let (state, _) = run(at(Up), &[D, S, D], t);
        assert!(!state.degraded, "a fast check in between resets the count");
        let (state, _) = run(at(Up), &[D, D], t);
        assert!(state.degraded);
        let (state, _) = run(at(Up), &[D, D, S, D, S], t);
        assert!(state.degraded, "needs two fast checks in a row to clear");
        let (state, _) = run(at(Up), &[D, D, S, S], t);
        assert!(!state.degraded);
        let (state, seen) = run(at(Up), &[D, D, F], t);
        assert!(state.degraded, "one failure under a threshold of two changes neither");
        assert!(seen.is_empty());
        let (state, _) = run(at(Up), &[D, D, F, F], t);
        assert_eq!((state.status, state.degraded), (Down, false), "a confirmed down clears it");
        let (state, _) = run(at(Up), &[D, F, D], t);
        assert!(!state.degraded, "a failure breaks a run of slow checks");
    }
}
