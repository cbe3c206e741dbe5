mod checks;
mod errors;
mod helpers;
mod incidents;
mod migrations;
mod ordering;
