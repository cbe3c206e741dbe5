mod cli;
mod faults;
mod handler;
mod probe;
mod worker;
