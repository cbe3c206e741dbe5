//! The REST API's integration tests against real Postgres and Redis.

mod abuse;
mod admin_users;
mod api_keys;
mod auth;
mod channel_kinds;
mod channels;
mod cli;
mod events;
mod gen_secret;
mod health;
mod helpers;
mod hostile;
mod kinds;
mod maintenance;
mod metrics;
mod monitors;
mod openapi;
mod policy;
mod quotas;
mod reads;
mod replica;
mod rules;
mod secrets;
mod sessions;
mod status_pages;
mod validation;
