//! The status-change worker's integration tests.

mod cli;
mod retention;
mod timers;
mod upkeep;
