//! The streams crate against real Redis: the runner and the schedule.

mod helpers;
mod in_flight;
mod leases;
mod legacy;
mod runner;
mod schedule;
mod trace;
