//! The monitoring worker's integration tests: scheduling, probes, check storage, faults.

mod cli;
mod fairness;
mod faults;
mod handler;
mod kinds;
mod policy;
mod probe;
mod secrets;
mod worker;
