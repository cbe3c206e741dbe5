mod helpers;
mod metrics;
mod pipeline;
