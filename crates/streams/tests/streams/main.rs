mod helpers;
mod runner;
mod schedule;
