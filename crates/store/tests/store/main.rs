mod checks;
mod helpers;
mod incidents;
mod migrations;
mod ordering;
