//! `GET /jobs` on the local DynamoDB server (moto, then dynalite): a table of its own with the
//! user index, 250 jobs of one user among other users' jobs, paged through
//! (docs/API.md#get-jobs--the-callers-jobs).

mod common;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, PutRequest, ScalarAttributeType, WriteRequest,
};
use common::*;
use serde_json::{json, Value};

const INDEX: &str = "jobs-by-user";
const STATES: [&str; 4] = ["queued", "retrying", "completed", "failed"];
const BASE_MS: u64 = 1_796_000_000_000;

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema")
}

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .expect("attribute definition")
}

/// A new table with the index of template.yaml (user_id + created_at, INCLUDE the summary).
async fn indexed_table(label: &str) -> String {
    let client = client().await;
    let name = format!("jobs-listed-{label}-{}", now_ms());
    let projection = Projection::builder()
        .projection_type(ProjectionType::Include)
        .set_non_key_attributes(Some(
            [
                "state",
                "target",
                "failedReason",
                "progress",
                "attempts",
                "updated_at",
                "expires_at",
            ]
            .map(String::from)
            .to_vec(),
        ))
        .build();
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("jobId", ScalarAttributeType::S))
        .attribute_definitions(attribute("user_id", ScalarAttributeType::S))
        .attribute_definitions(attribute("created_at", ScalarAttributeType::N))
        .key_schema(key("jobId", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(INDEX)
                .key_schema(key("user_id", KeyType::Hash))
                .key_schema(key("created_at", KeyType::Range))
                .projection(projection)
                .build()
                .expect("index"),
        )
        .send()
        .await
        .expect("create the indexed table");
    wait_until_active(&client, &name).await;
    name
}

type Item = HashMap<String, Av>;

fn job(id: &str, user: &str, created_at: Option<u64>, state: &str) -> Item {
    let mut item: Item = [
        ("jobId".to_string(), Av::S(id.into())),
        ("user_id".to_string(), Av::S(user.into())),
        ("state".to_string(), Av::S(state.into())),
        ("target".to_string(), Av::S("upload".into())),
        ("attempts".to_string(), Av::N("1".into())),
        (
            "returnvalue".to_string(),
            Av::M([("flickr".to_string(), Av::S("big".into()))].into()),
        ),
    ]
    .into();
    if let Some(created_at) = created_at {
        item.insert("created_at".into(), Av::N(created_at.to_string()));
    }
    item
}

async fn write_all(table: &str, items: Vec<Item>) {
    let client = client().await;
    for chunk in items.chunks(25) {
        let requests = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .expect("put"),
                    )
                    .build()
            })
            .collect();
        let mut pending = Some(HashMap::from([(table.to_string(), requests)]));
        while let Some(items) = pending.filter(|items| !items.is_empty()) {
            let output = client
                .batch_write_item()
                .set_request_items(Some(items))
                .send()
                .await
                .expect("write the jobs");
            pending = output.unprocessed_items;
        }
    }
}

/// 250 jobs of `user`, each 1 s apart, states in turn, interleaved with two other users' jobs
/// (one at the same millisecond as each of the user's, one just after).
fn many_jobs(user: &str) -> Vec<Item> {
    (0..250u64)
        .flat_map(|i| {
            let at = BASE_MS + i * 1000;
            let state = STATES[i as usize % 4];
            [
                job(&format!("{user}-{i:03}"), user, Some(at), state),
                job(&format!("{user}-other-{i:03}"), OTHER_USER, Some(at), state),
                job(
                    &format!("{user}-third-{i:03}"),
                    "third-user",
                    Some(at + 1),
                    state,
                ),
            ]
        })
        .collect()
}

fn list_request(user: &str, query: &str) -> Value {
    with_query(
        get("/api/v1/flickr/jobs", &[("authorization", &bearer(user))]),
        query,
    )
}

fn ids(reply: &Reply) -> Vec<String> {
    reply.data()["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("a jobs array: {reply:#?}"))
        .iter()
        .map(|job| job["id"].as_str().expect("an id").to_string())
        .collect()
}

/// Every page, following `next_page_token` until it is null.
async fn pages<S: flickr_job_status::store::JobStore>(
    app: &flickr_job_status::app::App<S>,
    user: &str,
    query: &str,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut full = query.to_string();
        if let Some(token) = &token {
            full.push_str(&format!("&page_token={token}"));
        }
        let reply = invoke(app, &list_request(user, &full)).await;
        assert_eq!(reply.status, 200, "{reply:#?}");
        pages.push(ids(&reply));
        token = reply.data()["next_page_token"].as_str().map(String::from);
        if token.is_none() {
            return pages;
        }
        assert!(pages.len() < 50, "paging never ends");
    }
}

#[tokio::test]
async fn two_hundred_fifty_jobs_each_once_newest_first_one_query_per_page() {
    let table = indexed_table("paging").await;
    let user = format!("lister-{}", now_ms());
    write_all(&table, many_jobs(&user)).await;
    let app = app(&[("JOBS_TABLE", &table), ("JOBS_USER_INDEX", INDEX)]).await;

    let listed = pages(&app, &user, "page_size=100").await;
    assert_eq!(
        listed.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![100, 100, 50]
    );
    let expected: Vec<String> = (0..250).rev().map(|i| format!("{user}-{i:03}")).collect();
    assert_eq!(listed.concat(), expected);
    assert_eq!(app.reads(), 3, "one Query per page");

    // The default page size, and the summary of a job as listed (no returnvalue).
    let first = invoke(&app, &list_request(&user, "")).await;
    assert_eq!(ids(&first).len(), 20);
    assert_eq!(
        first.data()["jobs"][0],
        json!({"id": format!("{user}-249"), "state": "retrying", "queue": "flickr_upload",
               "failedReason": null, "progress": null, "attempts": 1,
               "created_at": "2026-11-30T00:57:29.000Z", "updated_at": null})
    );
}

#[tokio::test]
async fn the_state_filter_across_pages_and_tokens_bound_to_it() {
    let table = indexed_table("filter").await;
    let user = format!("filterer-{}", now_ms());
    write_all(&table, many_jobs(&user)).await;
    let app = app(&[("JOBS_TABLE", &table), ("JOBS_USER_INDEX", INDEX)]).await;

    let listed = pages(&app, &user, "state=failed&page_size=30").await;
    let expected: Vec<String> = (0..250)
        .rev()
        .filter(|i| i % 4 == 3)
        .map(|i| format!("{user}-{i:03}"))
        .collect();
    assert_eq!(listed.concat(), expected);
    assert!(
        listed.iter().all(|page| page.len() <= 8),
        "the filter comes after the Limit"
    );

    let first = invoke(&app, &list_request(&user, "state=failed&page_size=30")).await;
    let token = first.data()["next_page_token"]
        .as_str()
        .expect("more")
        .to_string();
    let unfiltered = invoke(&app, &list_request(&user, "page_size=30")).await;
    let unfiltered_token = unfiltered.data()["next_page_token"]
        .as_str()
        .expect("more")
        .to_string();
    let reads = app.reads();
    for (who, query) in [
        (user.as_str(), format!("page_token={token}")),
        (user.as_str(), format!("page_token={token}&state=queued")),
        (
            user.as_str(),
            format!("page_token={unfiltered_token}&state=failed"),
        ),
        (OTHER_USER, format!("page_token={token}&state=failed")),
        (OTHER_USER, format!("page_token={unfiltered_token}")),
        (user.as_str(), format!("page_token={}", &token[1..])),
        (user.as_str(), format!("page_token={}", other_last(&token))),
    ] {
        let reply = invoke(&app, &list_request(who, &query)).await;
        reply.assert_error(400, "ERR_INVALID_REQUEST");
        assert_eq!(reply.error_message(), Some("invalid page_token"));
    }
    assert_eq!(app.reads(), reads, "a refused token reads nothing");

    // A token from before a rotation still works; one of a secret since dropped is stale.
    let rotated = app_with(
        &table,
        &[
            ("SHARE_TOKEN_SECRET", "rotated"),
            ("SHARE_TOKEN_SECRET_PREVIOUS", SHARE_SECRET),
        ],
    )
    .await;
    let next = invoke(
        &rotated,
        &list_request(
            &user,
            &format!("page_token={token}&state=failed&page_size=30"),
        ),
    )
    .await;
    assert_eq!(next.status, 200, "{next:#?}");
    assert_eq!(
        ids(&next),
        expected[ids(&first).len()..][..ids(&next).len()].to_vec()
    );
    let stale = app_with(&table, &[("SHARE_TOKEN_SECRET", "rotated")]).await;
    let reply = invoke(
        &stale,
        &list_request(&user, &format!("page_token={token}&state=failed")),
    )
    .await;
    reply.assert_error(400, "ERR_INVALID_REQUEST");
}

/// The token with its last character changed.
fn other_last(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "A" { "B" } else { "A" })
}

async fn app_with(
    table: &str,
    overrides: &[(&str, &str)],
) -> flickr_job_status::app::App<Counting<flickr_job_status::store::DynamoStore>> {
    let mut vars = vec![("JOBS_TABLE", table), ("JOBS_USER_INDEX", INDEX)];
    vars.extend_from_slice(overrides);
    app(&vars).await
}

#[tokio::test]
async fn undated_and_expired_jobs_are_left_out_and_corrupt_ones_are_errors() {
    let table = indexed_table("odd").await;
    let user = format!("odd-{}", now_ms());
    let mut expired = job("expired", &user, Some(BASE_MS + 5), "completed");
    expired.insert("expires_at".into(), Av::N((now_secs() - 1).to_string()));
    let mut later = job("expires-later", &user, Some(BASE_MS + 4), "queued");
    later.insert("expires_at".into(), Av::N((now_secs() + 3600).to_string()));
    let mut corrupt = job("corrupt-target", &user, Some(BASE_MS + 3), "queued");
    corrupt.insert("target".into(), Av::Ss(vec!["rest".into()]));
    let mut corrupt_state = job("corrupt-state", &user, Some(BASE_MS + 2), "queued");
    corrupt_state.insert("state".into(), Av::N("3".into()));
    write_all(
        &table,
        vec![
            expired,
            later,
            corrupt,
            corrupt_state,
            job("undated", &user, None, "queued"),
            job("dated", &user, Some(BASE_MS + 1), "failed"),
        ],
    )
    .await;
    let app = app_with(&table, &[]).await;
    let reply = invoke(&app, &list_request(&user, "")).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(
        ids(&reply),
        ["expires-later", "corrupt-target", "corrupt-state", "dated"]
    );
    let internal = json!({"code": "ERR_INTERNAL", "message": "internal error"});
    assert_eq!(
        reply.data()["jobs"][1],
        json!({"id": "corrupt-target", "error": internal})
    );
    assert_eq!(
        reply.data()["jobs"][2],
        json!({"id": "corrupt-state", "error": internal})
    );
    assert_eq!(reply.data()["next_page_token"], Value::Null);
}

#[tokio::test]
async fn without_the_index_setting_the_listing_is_501() {
    let app = app(&[]).await;
    let reply = invoke(&app, &list_request(OWNER, "page_size=1000")).await;
    reply.assert_error(501, "ERR_NOT_CONFIGURED");
    assert_eq!(app.reads(), 0);
}

/// Trying to reach another user's partition: with no share secret the page-token key is public,
/// so a caller can make any token they like for themselves — pointing at another user's job,
/// at a time past all of them. The listing still reads the caller's own partition only.
#[tokio::test]
async fn a_hand_made_token_never_reads_another_partition() {
    use flickr_job_status::auth::PageTokens;
    use flickr_job_status::store::StartKey;
    let table = indexed_table("forged").await;
    let victim = format!("victim-{}", now_ms());
    let attacker = format!("attacker-{}", now_ms());
    write_all(
        &table,
        vec![
            job("victim-new", &victim, Some(BASE_MS + 30), "completed"),
            job("victim-old", &victim, Some(BASE_MS + 10), "completed"),
            job("attacker-own", &attacker, Some(BASE_MS + 20), "queued"),
        ],
    )
    .await;
    let app = app_with(&table, &[("SHARE_TOKEN_SECRET", "")]).await;
    let public = PageTokens::new(None);
    for (job_id, created_at) in [
        ("victim-new", (BASE_MS + 30).to_string()),
        ("victim-old", (BASE_MS + 11).to_string()),
        ("victim-new", "99999999999999".to_string()),
    ] {
        let start = StartKey {
            job_id: job_id.into(),
            created_at,
        };
        // Bound to the victim: refused, the attacker is not the victim.
        let theirs = public.mint(&victim, None, &start);
        let reply = invoke(
            &app,
            &list_request(&attacker, &format!("page_token={theirs}")),
        )
        .await;
        reply.assert_error(400, "ERR_INVALID_REQUEST");
        // Bound to themselves: accepted, and it only moves within their own jobs.
        let own = public.mint(&attacker, None, &start);
        let reply = invoke(&app, &list_request(&attacker, &format!("page_token={own}"))).await;
        assert_eq!(reply.status, 200, "{reply:#?}");
        for id in ids(&reply) {
            assert_eq!(id, "attacker-own", "{job_id}: another partition was read");
        }
    }
}

/// Process CPU time (user + system) so far, from /proc/self/stat, in milliseconds.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which ends with ')'): utime and stime are the 12th and 13th.
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 10.0 // USER_HZ is 100 on Linux
}

/// CPU and wall per job of one way of reading 100 jobs, over `rounds` rounds.
async fn per_job<F, Fut>(rounds: u32, mut read_100: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (cpu, wall) = (cpu_ms(), std::time::Instant::now());
    for _ in 0..rounds {
        read_100().await;
    }
    let jobs = f64::from(rounds) * 100.0;
    (
        (cpu_ms() - cpu) * 1000.0 / jobs,
        wall.elapsed().as_secs_f64() * 1e6 / jobs,
    )
}

/// Not a check: the figures of docs/performance.md (many jobs at once). Run alone, so that no
/// other test shares the process's CPU time:
/// `./dev/test rust --test list_jobs measure -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, run by hand"]
async fn measure_a_batch_of_100_against_100_gets_and_a_page_of_100() {
    let table = indexed_table("measure").await;
    let user = format!("measured-{}", now_ms());
    let items: Vec<Item> = (0..100u64)
        .map(|i| {
            job(
                &format!("{user}-{i:03}"),
                &user,
                Some(BASE_MS + i),
                STATES[i as usize % 4],
            )
        })
        .collect();
    write_all(&table, items.clone()).await;
    let ids: Vec<String> = (0..100).map(|i| format!("{user}-{i:03}")).collect();
    let token = bearer(&user);
    let singles: Vec<Value> = ids
        .iter()
        .map(|id| get(&job_url(id), &[("authorization", &token)]))
        .collect();
    let batch = http_event(
        "POST",
        "/api/v1/flickr/jobs/batch",
        &[
            ("authorization", &token),
            ("content-type", "application/json"),
        ],
        Some(&json!({ "job_ids": ids }).to_string()),
    );
    let page = list_request(&user, "page_size=100");

    // The function's own work: the same requests over the in-memory store.
    let memory = flickr_job_status::store::memory::MemoryStore::new();
    for item in items {
        memory.put("jobId", item).unwrap();
    }
    let config = config(&[("JOBS_USER_INDEX", INDEX)]);
    let in_memory = flickr_job_status::wiring::app(&config, memory);
    // Over the local server: the SDK, HTTP and the server's own time too.
    let dynamo = app_with(&table, &[]).await;
    assert_eq!(invoke(&dynamo, &batch).await.status, 200);
    assert_eq!(ids_of_page(&invoke(&dynamo, &page).await), 100);

    println!(
        "\nper job (µs): CPU of this process / wall; {} build",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for (store, rounds) in [("memory", 200u32), ("dynamodb", 10u32)] {
        macro_rules! run {
            ($app:expr) => {{
                let app = $app;
                let single = per_job(rounds, || async {
                    for event in &singles {
                        assert_eq!(invoke(app, event).await.status, 200);
                    }
                })
                .await;
                let batched = per_job(rounds * 10, || async {
                    assert_eq!(invoke(app, &batch).await.status, 200);
                })
                .await;
                let paged = per_job(rounds * 10, || async {
                    assert_eq!(invoke(app, &page).await.status, 200);
                })
                .await;
                (single, batched, paged)
            }};
        }
        let (single, batched, paged) = if store == "memory" {
            run!(&in_memory)
        } else {
            run!(&dynamo)
        };
        println!(
            "{store:>8}: 100 GETs {:.1} / {:.1}; one batch of 100 {:.1} / {:.1} ({:.1}x / {:.1}x less); a page of 100 {:.1} / {:.1}",
            single.0, single.1, batched.0, batched.1,
            single.0 / batched.0, single.1 / batched.1, paged.0, paged.1
        );
    }
}

fn ids_of_page(reply: &Reply) -> usize {
    ids(reply).len()
}
