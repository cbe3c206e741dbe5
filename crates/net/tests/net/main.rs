//! The network policy at connect time: names resolved by a DNS server the test runs, targets
//! on loopback addresses, `127.0.0.3` configured as blocked. Nothing leaves this machine.

mod policy;
