//! `ws-connect`: the `$connect` route (deployed as `bootstrap`).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = ws::init().await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
        let reply =
            ws::handle_connect(&deps.store, &deps.config, &event.payload, common::now_epoch_seconds()).await;
        Ok::<_, Error>(reply.into_apigw())
    }))
    .await
}
