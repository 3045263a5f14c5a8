//! The WebSocket connection table.
//!
//! Same layout as the Python handler (`lambda-src/websocket/handler.py`):
//!
//! * partition key `ROOM_KEY` (default `room_id`, S), sort key
//!   `connection_id` (S);
//! * attributes `connected_at` (N, epoch seconds) and the TTL attribute
//!   `TTL_ATTRIBUTE` (default `expires_at`, N) = connect time +
//!   `CONNECTION_TTL_SECONDS` (default 7200);
//! * GSI `CONNECTION_INDEX` (default `connection_id-index`) with hash key
//!   `connection_id`, KEYS_ONLY, used to find a connection's rooms.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::StoreError;
use crate::config::{self, ConfigError, Lookup};

pub const CONNECTION_ID_ATTRIBUTE: &str = "connection_id";
pub const CONNECTED_AT_ATTRIBUTE: &str = "connected_at";

pub const DEFAULT_ROOM_KEY: &str = "room_id";
pub const DEFAULT_CONNECTION_INDEX: &str = "connection_id-index";
pub const DEFAULT_TTL_ATTRIBUTE: &str = "expires_at";
pub const DEFAULT_CONNECTION_TTL_SECONDS: i64 = 7200;
pub const DEFAULT_ROOM_QUERY_PARAM: &str = "room";

/// Settings of the connection table, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTableConfig {
    /// `TABLE_NAME` (required).
    pub table_name: String,
    /// `ROOM_KEY`: the partition key attribute.
    pub room_key: String,
    /// `CONNECTION_INDEX`: the GSI on `connection_id`.
    pub connection_index: String,
    /// `TTL_ATTRIBUTE`.
    pub ttl_attribute: String,
    /// `CONNECTION_TTL_SECONDS`: lifetime of a registration.
    pub connection_ttl_seconds: i64,
    /// `ROOM_QUERY_PARAM`: the query string parameter naming the room on
    /// `$connect`.
    pub room_query_param: String,
}

impl ConnectionTableConfig {
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let ttl = match env.get("CONNECTION_TTL_SECONDS") {
            None => DEFAULT_CONNECTION_TTL_SECONDS,
            Some(raw) => raw.trim().parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
                ConfigError(format!("CONNECTION_TTL_SECONDS must be a positive integer, got {raw:?}"))
            })?,
        };
        Ok(Self {
            table_name: config::table_name(env)?,
            room_key: config::or_default(env, "ROOM_KEY", DEFAULT_ROOM_KEY),
            connection_index: config::or_default(env, "CONNECTION_INDEX", DEFAULT_CONNECTION_INDEX),
            ttl_attribute: config::or_default(env, "TTL_ATTRIBUTE", DEFAULT_TTL_ATTRIBUTE),
            connection_ttl_seconds: ttl,
            room_query_param: config::or_default(env, "ROOM_QUERY_PARAM", DEFAULT_ROOM_QUERY_PARAM),
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&config::Env)
    }

    /// A configuration with every default and the given table (tests).
    pub fn with_table(table_name: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            room_key: DEFAULT_ROOM_KEY.into(),
            connection_index: DEFAULT_CONNECTION_INDEX.into(),
            ttl_attribute: DEFAULT_TTL_ATTRIBUTE.into(),
            connection_ttl_seconds: DEFAULT_CONNECTION_TTL_SECONDS,
            room_query_param: DEFAULT_ROOM_QUERY_PARAM.into(),
        }
    }
}

/// One row of the table: a connection registered in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub room: String,
    pub connection_id: String,
    pub connected_at: i64,
    pub expires_at: i64,
}

impl Registration {
    /// A registration made at `now` that expires `ttl_seconds` later.
    pub fn new(room: &str, connection_id: &str, now: i64, ttl_seconds: i64) -> Self {
        Self {
            room: room.to_string(),
            connection_id: connection_id.to_string(),
            connected_at: now,
            expires_at: now.saturating_add(ttl_seconds),
        }
    }
}

/// Storage of WebSocket connections by room.
pub trait ConnectionStore: Send + Sync {
    /// Registers (or refreshes) a connection in a room.
    fn put(&self, registration: &Registration) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The rooms a connection is registered in (read from the GSI).
    fn rooms_of(&self, connection_id: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The connection ids registered in a room.
    fn connections_in(&self, room: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Removes one registration (no error if it does not exist).
    fn delete(&self, room: &str, connection_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The DynamoDB-backed [`ConnectionStore`].
#[derive(Debug, Clone)]
pub struct DynamoConnectionStore {
    client: aws_sdk_dynamodb::Client,
    config: ConnectionTableConfig,
}

impl DynamoConnectionStore {
    pub fn new(client: aws_sdk_dynamodb::Client, config: ConnectionTableConfig) -> Self {
        Self { client, config }
    }

    pub fn config(&self) -> &ConnectionTableConfig {
        &self.config
    }
}

fn sdk_error<E: std::error::Error>(op: &str, err: E) -> StoreError {
    StoreError(format!("DynamoDB {op} failed: {}", DisplayErrorContext(&err)))
}

fn string_attr(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

impl ConnectionStore for DynamoConnectionStore {
    async fn put(&self, r: &Registration) -> Result<(), StoreError> {
        let c = &self.config;
        self.client
            .put_item()
            .table_name(&c.table_name)
            .item(&c.room_key, AttributeValue::S(r.room.clone()))
            .item(CONNECTION_ID_ATTRIBUTE, AttributeValue::S(r.connection_id.clone()))
            .item(CONNECTED_AT_ATTRIBUTE, AttributeValue::N(r.connected_at.to_string()))
            .item(&c.ttl_attribute, AttributeValue::N(r.expires_at.to_string()))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    async fn rooms_of(&self, connection_id: &str) -> Result<Vec<String>, StoreError> {
        let c = &self.config;
        let items = self
            .client
            .query()
            .table_name(&c.table_name)
            .index_name(&c.connection_index)
            .key_condition_expression("#c = :c")
            .expression_attribute_names("#c", CONNECTION_ID_ATTRIBUTE)
            .expression_attribute_values(":c", AttributeValue::S(connection_id.to_string()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("Query (connection index)", e))?;
        Ok(items.iter().filter_map(|item| string_attr(item, &c.room_key)).collect())
    }

    async fn connections_in(&self, room: &str) -> Result<Vec<String>, StoreError> {
        let c = &self.config;
        let items = self
            .client
            .query()
            .table_name(&c.table_name)
            .key_condition_expression("#r = :r")
            .projection_expression("#c")
            .expression_attribute_names("#r", &c.room_key)
            .expression_attribute_names("#c", CONNECTION_ID_ATTRIBUTE)
            .expression_attribute_values(":r", AttributeValue::S(room.to_string()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("Query (room)", e))?;
        Ok(items.iter().filter_map(|item| string_attr(item, CONNECTION_ID_ATTRIBUTE)).collect())
    }

    async fn delete(&self, room: &str, connection_id: &str) -> Result<(), StoreError> {
        let c = &self.config;
        self.client
            .delete_item()
            .table_name(&c.table_name)
            .key(&c.room_key, AttributeValue::S(room.to_string()))
            .key(CONNECTION_ID_ATTRIBUTE, AttributeValue::S(connection_id.to_string()))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults() {
        let c = ConnectionTableConfig::from_lookup(&[("TABLE_NAME", "conns")]).unwrap();
        assert_eq!(c, ConnectionTableConfig::with_table("conns"));
        assert_eq!(c.room_key, "room_id");
        assert_eq!(c.connection_index, "connection_id-index");
        assert_eq!(c.ttl_attribute, "expires_at");
        assert_eq!(c.connection_ttl_seconds, 7200);
        assert_eq!(c.room_query_param, "room");
    }

    #[test]
    fn config_overrides() {
        let c = ConnectionTableConfig::from_lookup(&[
            ("TABLE_NAME", "t"),
            ("ROOM_KEY", "pk"),
            ("CONNECTION_INDEX", "idx"),
            ("TTL_ATTRIBUTE", "ttl"),
            ("CONNECTION_TTL_SECONDS", "60"),
            ("ROOM_QUERY_PARAM", "channel"),
        ])
        .unwrap();
        assert_eq!(
            (c.room_key.as_str(), c.connection_index.as_str(), c.ttl_attribute.as_str()),
            ("pk", "idx", "ttl")
        );
        assert_eq!(c.connection_ttl_seconds, 60);
        assert_eq!(c.room_query_param, "channel");
    }

    #[test]
    fn config_errors() {
        assert!(ConnectionTableConfig::from_lookup(&[("ROOM_KEY", "x")]).is_err());
        let bad =
            ConnectionTableConfig::from_lookup(&[("TABLE_NAME", "t"), ("CONNECTION_TTL_SECONDS", "soon")]);
        assert!(bad.unwrap_err().0.contains("CONNECTION_TTL_SECONDS"));
    }

    #[test]
    fn registration_expiry() {
        let r = Registration::new("lobby", "c1", 1_000, 7200);
        assert_eq!(r.connected_at, 1_000);
        assert_eq!(r.expires_at, 8_200);
    }
}
