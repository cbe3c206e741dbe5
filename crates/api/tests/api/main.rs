//! The REST API's integration tests against real Postgres and Redis.

mod auth;
mod channels;
mod cli;
mod gen_secret;
mod health;
mod helpers;
mod kinds;
mod metrics;
mod monitors;
mod openapi;
mod policy;
mod quotas;
mod reads;
mod secrets;
mod validation;
