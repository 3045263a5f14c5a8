//! Code shared by the project's Rust Lambda functions.
//!
//! * [`aws`]: SDK configuration with a rustls + ring HTTPS client, and the
//!   DynamoDB client built from it.
//! * [`reply`]: a transport-neutral JSON reply (status, headers, body) and
//!   its conversion to an API Gateway proxy response; `{"error": "..."}`
//!   helpers.
//! * [`body`]: request-body decoding (base64, UTF-8, JSON).
//! * [`config`]: environment-variable lookup with defaults, injectable for
//!   tests.
//! * [`connections`]: the WebSocket connection table (trait, DynamoDB
//!   implementation, and with feature `test-util` an in-memory one).
//! * [`runtime_api`]: the Runtime API address when a proxy extension is used.

pub mod aws;
pub mod body;
pub mod config;
pub mod connections;
pub mod reply;
pub mod runtime_api;

#[cfg(any(test, feature = "test-util"))]
pub mod memory;

pub use reply::Reply;

/// An error of a backing store (DynamoDB or a fake). The message is meant
/// for logs, never for API clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl StoreError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// Seconds since the Unix epoch.
pub fn now_epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
