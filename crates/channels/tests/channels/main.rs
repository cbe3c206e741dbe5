//! Channel deliveries against local fake providers (every request recorded and its exact
//! payload checked) and under the network policy. Nothing leaves this machine.

mod bots;
mod helpers;
mod hooks;
mod webhook_policy;
