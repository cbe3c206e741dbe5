//! The status-change worker's integration tests.

mod cli;
mod timers;
mod upkeep;
