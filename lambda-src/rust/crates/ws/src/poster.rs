//! Posting to WebSocket connections.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::DisplayErrorContext;
use aws_sdk_apigatewaymanagement::primitives::Blob;

/// The result of posting to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    Delivered,
    /// The connection no longer exists (GoneException, HTTP 410).
    Gone,
    /// Any other failure (message for logs).
    Failed(String),
}

/// Sends data to a WebSocket connection through the management API at
/// `endpoint`.
pub trait Poster: Send + Sync {
    fn post(
        &self,
        endpoint: &str,
        connection_id: &str,
        data: &[u8],
    ) -> impl Future<Output = PostOutcome> + Send;
}

/// [`Poster`] on the API Gateway Management API; one client per endpoint,
/// created on first use and kept for the life of the process.
pub struct ManagementPoster {
    sdk_config: common::aws::SdkConfig,
    clients: Mutex<HashMap<String, Client>>,
}

impl ManagementPoster {
    pub fn new(sdk_config: common::aws::SdkConfig) -> Self {
        Self { sdk_config, clients: Mutex::new(HashMap::new()) }
    }

    fn client(&self, endpoint: &str) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(endpoint.to_string())
            .or_insert_with(|| {
                let config = aws_sdk_apigatewaymanagement::config::Builder::from(&self.sdk_config)
                    .endpoint_url(endpoint)
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }
}

impl Poster for ManagementPoster {
    async fn post(&self, endpoint: &str, connection_id: &str, data: &[u8]) -> PostOutcome {
        let result = self
            .client(endpoint)
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data.to_vec()))
            .send()
            .await;
        match result {
            Ok(_) => PostOutcome::Delivered,
            Err(err) => {
                let gone = err.as_service_error().is_some_and(|e| e.is_gone_exception())
                    || err.raw_response().is_some_and(|r| r.status().as_u16() == 410);
                if gone {
                    PostOutcome::Gone
                } else {
                    PostOutcome::Failed(DisplayErrorContext(&err).to_string())
                }
            }
        }
    }
}
