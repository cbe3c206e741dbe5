//! The notification worker's integration tests: delivery, retries, dead letters.

mod cli;
mod delivery;
mod fairness;
mod kinds;
mod secrets;
