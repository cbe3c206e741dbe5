mod handler;
mod probe;
mod worker;
