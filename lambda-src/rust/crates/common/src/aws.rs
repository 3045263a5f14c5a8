//! AWS SDK configuration.
//!
//! The SDK crates are built with `default-features = false`, which leaves
//! out their default HTTPS client (rustls on aws-lc-rs, whose C build is
//! large and needs cmake-like tooling per target). Instead the HTTP client
//! is built here from `aws-smithy-http-client` with rustls on `ring`, whose
//! build only needs a C compiler for the target (`cc`). Trusted roots come
//! from the platform store (`/etc/pki/tls/certs` on provided.al2023).

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_smithy_http_client::Builder as HttpClientBuilder;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

pub use aws_sdk_dynamodb::config::SharedHttpClient;

/// An HTTPS client on hyper 1 + rustls with the ring crypto provider.
pub fn https_client() -> SharedHttpClient {
    HttpClientBuilder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Loads the shared SDK configuration (region and credentials from the
/// Lambda environment) with [`https_client`] as the HTTP client.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client()).load().await
}

/// A DynamoDB client for the given configuration.
pub fn dynamodb_client(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}
