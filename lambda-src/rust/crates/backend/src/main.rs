//! Lambda entry point of the REST backend (deployed as `bootstrap`).

use backend::{DynamoItemStore, handle_request};
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    common::runtime_api::use_proxy();
    lambda_http::tracing::init_default_subscriber();

    let table = common::config::table_name(&common::config::Env)?;
    let sdk_config = common::aws::sdk_config().await;
    let store = DynamoItemStore::new(common::aws::dynamodb_client(&sdk_config), table);
    let store = &store;

    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(handle_request(store, &req, common::now_epoch_seconds()).await)
    }))
    .await
}
