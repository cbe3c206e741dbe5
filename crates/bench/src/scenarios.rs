//! The scenarios, one module each; each returns the rows it adds to the table.

pub(crate) mod alert;
pub(crate) mod alerting;
pub(crate) mod all;
pub(crate) mod api;
pub(crate) mod ceilings;
pub(crate) mod chaos;
pub(crate) mod heartbeat;
pub(crate) mod kinds;
pub(crate) mod signups;
pub(crate) mod status_page;
pub(crate) mod throughput;
pub(crate) mod vigil;
