//! An existing jobs table whose partition key is not `jobId` (`JOBS_TABLE_KEY`), on a table of
//! its own on the local DynamoDB server.

mod common;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use common::*;
use serde_json::json;

/// A table keyed by `id`, as the workers' own table may be, holding one completed job.
async fn table_keyed_by_id(job_id: &str) -> String {
    let client = client().await;
    let name = format!("jobs-by-id-{}", now_ms());
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .expect("create the table");
    wait_until_active(&client, &name).await;
    client
        .put_item()
        .table_name(&name)
        .item("id", Av::S(job_id.into()))
        .item("user_id", Av::S(OWNER.into()))
        .item("state", Av::S("completed".into()))
        .item("target", Av::S("upload".into()))
        .item(
            "returnvalue",
            Av::M(
                [(
                    "flickr".to_string(),
                    Av::M([("stat".to_string(), Av::S("ok".into()))].into()),
                )]
                .into(),
            ),
        )
        .send()
        .await
        .expect("put the job");
    client
        .put_item()
        .table_name(&name)
        .item("id", Av::S(format!("{job_id}-expired")))
        .item("user_id", Av::S(OWNER.into()))
        .item("state", Av::S("completed".into()))
        .item("expires_at", Av::N((now_secs() - 1).to_string()))
        .send()
        .await
        .expect("put the expired job");
    name
}

#[tokio::test]
async fn jobs_are_read_by_the_configured_partition_key() {
    let job_id = format!("by-id-{}", now_ms());
    let table = table_keyed_by_id(&job_id).await;
    let by_id = app(&[("JOBS_TABLE", &table), ("JOBS_TABLE_KEY", "id")]).await;

    let reply = invoke(&by_id, &status_of(&job_id, OWNER)).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(
        reply.data(),
        &json!({"id": job_id, "state": "completed", "returnvalue": {"flickr": {"stat": "ok"}},
                "failedReason": null, "stacktrace": [], "queue": "flickr_upload"})
    );
    let missing = invoke(&by_id, &status_of(MISSING_JOB, OWNER)).await;
    missing.assert_error(404, "ERR_JOB_NOT_FOUND");
    let not_theirs = invoke(&by_id, &status_of(&job_id, OTHER_USER)).await;
    not_theirs.assert_error(404, "ERR_JOB_NOT_FOUND");
    // DynamoDB returns an expired item until it gets round to deleting it: not found all the same.
    let expired = invoke(&by_id, &status_of(&format!("{job_id}-expired"), OWNER)).await;
    expired.assert_error(404, "ERR_JOB_NOT_FOUND");
    assert_eq!(expired.without_request_id(), missing.without_request_id());
    assert_eq!(by_id.reads(), 4);

    // The default key name against this table is a misconfiguration: DynamoDB refuses the
    // read, and the caller gets a plain 500, never a 404 that would hide it.
    let misconfigured = app(&[("JOBS_TABLE", &table)]).await;
    let reply = invoke(&misconfigured, &status_of(&job_id, OWNER)).await;
    reply.assert_error(500, "ERR_INTERNAL");
    assert!(!reply.raw_body.unwrap_or_default().contains(&table));
}
