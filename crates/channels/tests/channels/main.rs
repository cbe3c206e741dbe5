//! Channel deliveries under the network policy: `127.0.0.3` configured as blocked, names
//! resolved by a DNS server the test runs. Nothing leaves this machine.

mod webhook_policy;
