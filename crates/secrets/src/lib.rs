//! Secrets at rest: values sealed with XChaCha20-Poly1305 under a [`Keyring`] (the current
//! key and the old ones still accepted, each with an id), stored as a versioned [`Sealed`]
//! envelope bound to the record it belongs to, and the masks ([`mask`]) the API shows
//! secrets under.
//!
//! Its own crate because both the domain (a probe spec carries its sealed headers) and the
//! configuration (`SECRETS_KEY` is parsed at start-up) need it, and neither owns the other.

mod keyring;
pub mod mask;

pub use keyring::{Aad, KeyError, Keyring, Sealed, SecretsError, generate_key};
