mod faults;
mod handler;
mod probe;
mod worker;
