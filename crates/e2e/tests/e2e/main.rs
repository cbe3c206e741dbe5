mod healing;
mod helpers;
mod metrics;
mod pipeline;
mod tls;
