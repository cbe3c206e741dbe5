//! The store against real Postgres: checks, incidents, ordering, errors, migrations.

mod checks;
mod errors;
mod helpers;
mod incidents;
mod migrations;
mod ordering;
mod secrets;
