//! Redis for Upcheck: connections, the stream producer, the one consumer-group runner every
//! worker shares, the leaderless schedule, the delay queue, lease locks, live-status
//! publication and stream/group introspection.
//!
//! Stream semantics follow the Redis streams documentation: groups are created at id `0` with
//! `MKSTREAM` (so entries added before the group exists are not skipped), entries are
//! acknowledged only after their effects are committed, and pending entries idle longer than
//! `RECLAIM_IDLE_MS` are claimed by a live consumer.

mod backoff;
mod conn;
pub mod dead_letters;
mod delay;
mod error;
mod in_flight;
mod info;
pub mod keys;
mod leases;
mod lock;
mod message;
mod producer;
mod rate_limit;
pub mod regions;
mod reply;
mod runner;
mod schedule;
mod throttle;
mod timer_set;
pub mod trace;

pub use conn::{RedisConn, RedisConns, adopt_legacy_key, client, connect, node_clients, subscribe};
pub use delay::DelayQueue;
pub use error::StreamError;
pub use in_flight::{Admission, InFlight};
pub use info::{GroupInfo, group_info};
pub use keys::Keys;
pub use leases::Leases;
pub use lock::{Held, Lock};
pub use message::{BoxError, HandleError, Handler, StreamMessage};
pub use producer::{MESSAGE_FIELD, Producer};
pub use rate_limit::{RateLimiter, RateVerdict};
pub use runner::{Runner, RunnerConfig};
pub use schedule::Schedule;
pub use throttle::Throttle;
pub use timer_set::{Claimed, TimerSet};
