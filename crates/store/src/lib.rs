//! Postgres, the system of record: the connection pool, embedded migrations and one module of
//! plain SQL functions per table group.

pub mod api_keys;
pub mod channels;
pub mod checks;
mod connect;
pub mod error;
pub mod events;
pub mod feed;
pub mod flapping;
mod gate;
pub mod incidents;
pub mod maintenance;
pub mod maintenance_hold;
pub mod monitors;
pub mod notifications;
pub mod partitions;
pub mod pool;
pub mod reads;
pub mod reconcile;
pub mod reseal;
pub mod retention;
pub mod rollups;
pub mod rules;
pub mod sessions;
pub mod status_pages;
pub mod timeline;
pub mod timers;
pub mod tls;
pub mod users;

pub use error::StoreError;
pub use pool::{Pool, connect_pool, migrate, migrate_until, ping};
