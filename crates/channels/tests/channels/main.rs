//! Channel deliveries against local fake providers (every request recorded and its exact
//! payload checked), e-mail against an SMTP server the test starts, and deliveries under the
//! network policy (`127.0.0.3` configured as blocked, names resolved by a DNS server the test
//! runs). Nothing leaves this machine.

mod bots;
mod email;
mod email_policy;
mod helpers;
mod hooks;
mod webhook_policy;
