//! Redis for Upcheck: connections, the stream producer, the one consumer-group runner every
//! worker shares, and the leaderless schedule.
//!
//! Stream semantics follow the Redis streams documentation: groups are created at id `0` with
//! `MKSTREAM` (so entries added before the group exists are not skipped), entries are
//! acknowledged only after their effects are committed, and pending entries idle longer than
//! `RECLAIM_IDLE_MS` are claimed by a live consumer.

mod backoff;
mod conn;
mod error;
mod keys;
mod message;
mod producer;
mod reply;
mod runner;
mod schedule;

pub use conn::{RedisConns, connect};
pub use error::StreamError;
pub use keys::Keys;
pub use message::{BoxError, HandleError, Handler, StreamMessage};
pub use producer::{MESSAGE_FIELD, Producer};
pub use runner::{Runner, RunnerConfig};
pub use schedule::Schedule;
