//! Item storage: the [`ItemStore`] trait and its DynamoDB implementation.

use std::future::Future;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use common::StoreError;

pub const ID_ATTRIBUTE: &str = "id";
pub const BODY_ATTRIBUTE: &str = "body";
pub const UPDATED_AT_ATTRIBUTE: &str = "updated_at";

/// A stored item: its id, the JSON body as text and the time of the last
/// write (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub id: String,
    pub body: String,
    pub updated_at: i64,
}

/// Storage of items by id.
pub trait ItemStore: Send + Sync {
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<StoredItem>, StoreError>> + Send;
    /// Creates or replaces an item.
    fn put(&self, item: &StoredItem) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes an item; deleting a missing item is not an error.
    fn delete(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// [`ItemStore`] on a DynamoDB table with partition key `id` (S).
#[derive(Debug, Clone)]
pub struct DynamoItemStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoItemStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

fn sdk_error<E: std::error::Error>(op: &str, err: E) -> StoreError {
    StoreError(format!("DynamoDB {op} failed: {}", DisplayErrorContext(&err)))
}

impl ItemStore for DynamoItemStore {
    async fn get(&self, id: &str) -> Result<Option<StoredItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ID_ATTRIBUTE, AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        let Some(item) = out.item else { return Ok(None) };
        let body = item
            .get(BODY_ATTRIBUTE)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| StoreError::new(format!("item {id:?} has no string attribute body")))?;
        let updated_at = item
            .get(UPDATED_AT_ATTRIBUTE)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(0);
        Ok(Some(StoredItem { id: id.to_string(), body, updated_at }))
    }

    async fn put(&self, item: &StoredItem) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(ID_ATTRIBUTE, AttributeValue::S(item.id.clone()))
            .item(BODY_ATTRIBUTE, AttributeValue::S(item.body.clone()))
            .item(UPDATED_AT_ATTRIBUTE, AttributeValue::N(item.updated_at.to_string()))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(ID_ATTRIBUTE, AttributeValue::S(id.to_string()))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(())
    }
}
