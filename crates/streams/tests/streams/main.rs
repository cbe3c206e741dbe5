//! The streams crate against real Redis: the runner and the schedule.

mod helpers;
mod runner;
mod schedule;
mod trace;
