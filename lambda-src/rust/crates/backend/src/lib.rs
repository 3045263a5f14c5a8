//! The `backend` REST API.
//!
//! | method | path          | result                                          |
//! |--------|---------------|-------------------------------------------------|
//! | GET    | `/health`     | 200 `{"status":"ok"}`                           |
//! | PUT    | `/items/{id}` | stores the JSON body; 200 with the stored item  |
//! | GET    | `/items/{id}` | 200 `{"id","body","updated_at"}` or 404         |
//! | DELETE | `/items/{id}` | 204                                             |
//!
//! Errors are `{"error": "..."}`: 400 bad JSON or id, 404 unknown route or
//! item, 405 wrong method (with `Allow`), 413 body too large, 500 store
//! failure. Items live in DynamoDB table `TABLE_NAME`: partition key `id`
//! (S), the JSON body as string attribute `body` and `updated_at` (N, epoch
//! seconds).
//!
//! [`routes`] is pure (method + path + body in, [`Reply`] out) over the
//! [`store::ItemStore`] trait; [`handle_request`] adapts `lambda_http`.

pub mod routes;
pub mod store;

use common::Reply;
use lambda_http::{Body, Request, RequestExt, Response};

pub use routes::{Op, handle, resolve};
pub use store::{DynamoItemStore, ItemStore, StoredItem};

/// The request path without the API Gateway stage prefix.
pub fn request_path(req: &Request) -> &str {
    let raw = req.raw_http_path();
    if raw.is_empty() { req.uri().path() } else { raw }
}

/// Handles one `lambda_http` request.
pub async fn handle_request<S: ItemStore>(store: &S, req: &Request, now: i64) -> Response<Body> {
    let body: &[u8] = req.body().as_ref();
    to_response(handle(store, req.method(), request_path(req), body, now).await)
}

/// Converts a [`Reply`] to an HTTP response.
pub fn to_response(reply: Reply) -> Response<Body> {
    let mut builder = Response::builder().status(reply.status);
    if reply.body.is_some() {
        builder = builder.header("content-type", common::reply::CONTENT_TYPE_JSON);
    }
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value.as_str());
    }
    let body = match reply.body {
        Some(v) => Body::Text(v.to_string()),
        None => Body::Empty,
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut resp = Response::new(Body::Text(r#"{"error":"internal server error"}"#.into()));
        *resp.status_mut() = lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}
