//! The store against real Postgres: checks, incidents, ordering, errors, migrations.

mod checks;
mod connections;
mod degraded;
mod errors;
mod feed;
mod flapping;
mod helpers;
mod incidents;
mod maintenance;
mod migrations;
mod monitors;
mod ordering;
mod partitions;
mod retention;
mod rollups;
mod rules;
mod secrets;
mod sessions;
mod write_cost;
