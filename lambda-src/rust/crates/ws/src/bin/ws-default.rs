//! `ws-default`: the `$default` route, messages to the sender's room
//! (deployed as `bootstrap`).

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use ws::ManagementPoster;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = ws::init().await?;
    let poster = ManagementPoster::new(deps.sdk_config.clone());
    let (deps, poster) = (&deps, &poster);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
        let reply = ws::handle_default(&deps.store, poster, &deps.config, &event.payload).await;
        Ok::<_, Error>(reply.into_apigw())
    }))
    .await
}
