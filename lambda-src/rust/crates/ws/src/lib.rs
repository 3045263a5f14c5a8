//! API Gateway v2 WebSocket functions: `ws-connect`, `ws-disconnect`,
//! `ws-default` and `ws-broadcast`.
//!
//! Same data model and behaviour as the Python handler
//! (`lambda-src/websocket/handler.py`); see [`common::connections`] for the
//! table layout and [`WsConfig`] for the environment variables.
//!
//! * [`logic`]: the decisions (connect, disconnect, fan-out), pure over
//!   the [`ConnectionStore`](common::connections::ConnectionStore) and
//!   [`Poster`] traits;
//! * [`handlers`]: one function per Lambda, from the API Gateway event to a
//!   [`Reply`](common::Reply);
//! * [`poster`]: the [`Poster`] trait and its API Gateway Management API
//!   implementation;
//! * [`event`]: reading the event (connection id, room, endpoint, body).

pub mod event;
pub mod handlers;
pub mod logic;
pub mod poster;

pub use handlers::{handle_broadcast, handle_connect, handle_default, handle_disconnect};
pub use poster::{ManagementPoster, PostOutcome, Poster};

use common::config::{self, ConfigError, Lookup};
use common::connections::{ConnectionTableConfig, DynamoConnectionStore};

/// Configuration of the WebSocket functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConfig {
    /// `TABLE_NAME`, `ROOM_KEY`, `CONNECTION_INDEX`, `TTL_ATTRIBUTE`,
    /// `CONNECTION_TTL_SECONDS`, `ROOM_QUERY_PARAM`.
    pub table: ConnectionTableConfig,
    /// `MANAGEMENT_API_ENDPOINT`: overrides `https://{domainName}/{stage}`.
    pub management_endpoint: Option<String>,
}

impl WsConfig {
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            table: ConnectionTableConfig::from_lookup(env)?,
            management_endpoint: env.get("MANAGEMENT_API_ENDPOINT"),
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&config::Env)
    }
}

/// What every WebSocket function needs at run time.
pub struct Deps {
    pub config: WsConfig,
    pub sdk_config: common::aws::SdkConfig,
    pub store: DynamoConnectionStore,
}

/// Start-up of a WebSocket function: logging, configuration, SDK clients.
pub async fn init() -> Result<Deps, lambda_runtime::Error> {
    common::runtime_api::use_proxy();
    lambda_runtime::tracing::init_default_subscriber();
    let config = WsConfig::from_env()?;
    let sdk_config = common::aws::sdk_config().await;
    let store = DynamoConnectionStore::new(common::aws::dynamodb_client(&sdk_config), config.table.clone());
    Ok(Deps { config, sdk_config, store })
}
