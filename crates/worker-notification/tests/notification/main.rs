mod cli;
mod delivery;
