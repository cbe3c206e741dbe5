mod probe;
mod worker;
