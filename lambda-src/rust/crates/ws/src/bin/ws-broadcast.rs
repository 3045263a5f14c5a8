//! `ws-broadcast`: `{"room": "...", "message": ...}` to every connection of
//! any room, from a WebSocket route or a direct invocation (deployed as
//! `bootstrap`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use ws::ManagementPoster;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = ws::init().await?;
    let poster = ManagementPoster::new(deps.sdk_config.clone());
    let (deps, poster) = (&deps, &poster);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let reply = ws::handle_broadcast(&deps.store, poster, &deps.config, event.payload).await;
        Ok::<_, Error>(reply.into_apigw())
    }))
    .await
}
