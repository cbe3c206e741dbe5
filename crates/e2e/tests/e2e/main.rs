//! The whole stack in-process: API and the three workers against real Postgres and Redis.

mod alert_rules;
mod certificates;
mod dead_letters;
mod degraded;
mod deploy;
mod healing;
mod heartbeat;
mod helpers;
mod kinds;
mod live_feed;
mod maintenance;
mod metrics;
mod pipeline;
mod redis_cluster;
mod regions;
mod status_page_browser;
mod timeline;
mod tls;
mod traces;
