//! Channel deliveries: e-mail against an SMTP server the test starts (`email`), and deliveries
//! under the network policy: `127.0.0.3` configured as blocked, names resolved by a DNS server
//! the test runs. Nothing leaves this machine.

mod email;
mod email_policy;
mod webhook_policy;
