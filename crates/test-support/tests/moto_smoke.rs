//! Smoke test of the moto peer: create and get a secret through aws-sdk-secretsmanager.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use keyward_test_support::Moto;

#[tokio::test]
async fn secretsmanager_create_then_get() {
    let moto = Moto::start().await.expect("start moto");
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "static"))
        .endpoint_url(moto.endpoint())
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&config);

    let created = client
        .create_secret()
        .name("keyward/smoke")
        .secret_string(r#"{"password":"s3cr3t"}"#)
        .send()
        .await
        .expect("create secret");
    assert!(
        created
            .arn()
            .is_some_and(|arn| arn.contains("keyward/smoke"))
    );

    let read = client
        .get_secret_value()
        .secret_id("keyward/smoke")
        .send()
        .await
        .expect("get secret");
    assert_eq!(read.secret_string(), Some(r#"{"password":"s3cr3t"}"#));

    moto.reset().await.expect("reset");
    let gone = client
        .get_secret_value()
        .secret_id("keyward/smoke")
        .send()
        .await;
    assert!(gone.is_err(), "reset left the secret behind");
}
