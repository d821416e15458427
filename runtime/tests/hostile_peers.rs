//! The client and the key fetcher against a hostile HTTP server on 127.0.0.1 (issue 13): endless
//! and oversized bodies, redirects to another host, a slow key endpoint, `Retry-After` far past
//! the caller's deadline.

mod support_hostile;

use std::sync::Arc;
use std::time::{Duration, Instant};

use passage_connect::client::{Client, RetryPolicy, WaitOptions, ERROR_EXCERPT_BYTES};
use passage_connect::error::RedirectRefusal;
use passage_connect::webhook::{KeyError, KeySource, RemoteKeys};
use passage_connect::Error;
use support_hostile::{response, Hostile, Reply};

const LINK: &str = r#"{"id":"link_1","integrationId":"tmobile","operations":[{"resource":"mobileBillingStatement","action":"read"}],"status":"complete","result":{"billing":[]},"createdAt":1,"expiresAt":2}"#;
const PENDING: &str = r#"{"id":"link_1","integrationId":"tmobile","operations":[{"resource":"mobileBillingStatement","action":"read"}],"status":"pending","createdAt":1,"expiresAt":2}"#;

/// A P-256 public key in PEM (the one in the crate docs).
const PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaYc+ZFux/DNTaq7laLvUgfBlAVpc\nO0yOYBKU+nxuLs/Fiw9vKdmjQtKSrlqgaKqsmHpvzxBu5jqlUns+T/0u+g==\n-----END PUBLIC KEY-----\n";

fn client(base: &str) -> Client {
    Client::builder("psg_test")
        .base_url(base)
        .timeout(Duration::from_secs(20))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- body caps

#[tokio::test]
async fn an_endless_body_stops_at_the_cap_with_a_typed_error() {
    // No Content-Length: the body only ends when the client hangs up.
    let server = Hostile::start(|_, _| {
        Reply::Endless("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n".into())
    })
    .await;
    let limit = 1024 * 1024;
    let client = Client::builder("psg_test")
        .base_url(server.base_url())
        .max_body_bytes(limit)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(20), client.links().get("link_1"))
        .await
        .expect("the read stops at the cap instead of reading forever")
        .unwrap_err();
    let Error::BodyTooLarge {
        request,
        status,
        limit: reported,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*reported, limit);
    assert_eq!(*status, 200);
    assert_eq!(
        request,
        &format!("GET {}/v1/links/link_1", server.base_url())
    );
    let text = err.to_string();
    assert!(text.contains("1048576-byte body limit"), "{text}");
    assert!(text.contains(&server.base_url()), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let server = Hostile::start(|_, _| {
        Reply::Endless("HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n".into())
    })
    .await;
    let client = Client::builder("psg_test")
        .base_url(server.base_url())
        .max_body_bytes(4096)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.links().list().await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 4096, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_default_cap_applies_to_error_answers_too() {
    // 500 with an endless body, default cap (32 MiB): refused, and in bounded time.
    let server =
        Hostile::start(|_, _| Reply::Endless("HTTP/1.1 500 Internal Server Error\r\n\r\n".into()))
            .await;
    let err = tokio::time::timeout(
        Duration::from_secs(60),
        client(&server.base_url()).links().list(),
    )
    .await
    .expect("bounded")
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::BodyTooLarge {
                status: 500,
                limit: passage_connect::client::DEFAULT_MAX_BODY_BYTES,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn error_values_keep_a_bounded_excerpt_of_the_body() {
    let big = format!(
        r#"{{"error":"Link not found","pad":"{}"}}"#,
        "x".repeat(500_000)
    );
    let len = big.len();
    let answer = response("404 Not Found", &[], &big);
    let server = Hostile::start(move |_, _| Reply::Raw(answer.clone())).await;
    let err = client(&server.base_url())
        .links()
        .get("link_1")
        .await
        .unwrap_err();
    let Error::NotFound { response: kept } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(kept.message, "Link not found", "parsed from the whole body");
    assert!(
        kept.raw.len() < ERROR_EXCERPT_BYTES + 100,
        "{}",
        kept.raw.len()
    );
    assert!(
        kept.raw.ends_with(&format!(
            "[truncated: {ERROR_EXCERPT_BYTES} of {len} bytes shown]"
        )),
        "{}",
        &kept.raw[kept.raw.len() - 80..]
    );

    // A success body that does not decode: the Decode error keeps an excerpt too.
    let bad = format!(r#"{{"links":"{}"}}"#, "y".repeat(300_000));
    let answer = response("200 OK", &[], &bad);
    let server = Hostile::start(move |_, _| Reply::Raw(answer.clone())).await;
    let err = client(&server.base_url()).links().list().await.unwrap_err();
    let Error::Decode { body, path, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, "links");
    assert!(body.len() < ERROR_EXCERPT_BYTES + 100, "{}", body.len());
}

#[tokio::test]
async fn the_key_fetcher_stops_an_endless_answer_at_its_cap() {
    let server = Hostile::start(|_, _| {
        Reply::Endless("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n".into())
    })
    .await;
    let keys = RemoteKeys::new(&server.base_url()).with_max_body_bytes(16 * 1024);
    let err = tokio::time::timeout(Duration::from_secs(10), keys.key("wsk_1"))
        .await
        .expect("bounded")
        .unwrap_err();
    let KeyError::TooLarge { kid, url, limit } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((kid.as_str(), *limit), ("wsk_1", 16 * 1024));
    assert_eq!(
        url,
        &format!("{}/webhook_verification_key/get", server.base_url())
    );
    assert!(err.to_string().contains("16384-byte limit"), "{err}");
}

// ---------------------------------------------------------------- redirects

#[tokio::test]
async fn a_redirected_create_is_refused_and_the_body_never_reaches_the_target() {
    let elsewhere = Hostile::start(|_, _| {
        Reply::Raw(response(
            "201 Created",
            &[],
            r#"{"linkId":"link_evil","status":"pending","integrationId":"tmobile"}"#,
        ))
    })
    .await;
    let target = format!("{}/v1/links", elsewhere.base_url());
    let location = target.clone();
    let server = Hostile::start(move |_, _| {
        Reply::Raw(response(
            "307 Temporary Redirect",
            &[("location", &location)],
            "",
        ))
    })
    .await;
    let err = client(&server.base_url())
        .links()
        .create("tmobile")
        .operation_with_json_arguments("paymentMethod", "write", serde_json::json!({"cardNumber":"4111111111111111","expirationDate":"12/28","cvv":"123","nameOnCard":"John Doe","billingZip":"10001"}))
        .send()
        .await
        .unwrap_err();
    let Error::Redirect {
        status,
        location,
        refusal,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 307);
    assert_eq!(location.as_deref(), Some(target.as_str()));
    assert_eq!(*refusal, RedirectRefusal::NotGet);
    assert!(err.to_string().contains(&target), "names the target: {err}");
    assert_eq!(server.count(), 1, "sent once to the base URL");
    assert!(server.received()[0].head.starts_with("POST /v1/links"));
    // The client has returned: nothing of this request can still be on its way to `elsewhere`.
    assert_eq!(
        elsewhere.count(),
        0,
        "the card data went to the redirect target"
    );
}

#[tokio::test]
async fn a_get_redirect_to_another_origin_is_an_error_naming_it() {
    let elsewhere = Hostile::start(|_, _| Reply::Raw(response("200 OK", &[], LINK))).await;
    let target = format!("{}/v1/links/link_1", elsewhere.base_url());
    let location = target.clone();
    let server = Hostile::start(move |_, _| {
        Reply::Raw(response("302 Found", &[("location", &location)], ""))
    })
    .await;
    let err = client(&server.base_url())
        .links()
        .get("link_1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Redirect { status: 302, refusal: RedirectRefusal::CrossOrigin, location: Some(l), .. } if *l == target
        ),
        "{err:?}"
    );
    assert_eq!(elsewhere.count(), 0);
}

#[tokio::test]
async fn a_same_origin_get_redirect_is_followed_and_loops_are_cut() {
    let server = Hostile::start(|index, request| {
        if request.head.starts_with("GET /v1/links/link_1 ") && index == 0 {
            Reply::Raw(response(
                "308 Permanent Redirect",
                &[("location", "/moved/v1/links/link_1")],
                "",
            ))
        } else if request.head.starts_with("GET /moved/") {
            Reply::Raw(response("200 OK", &[], LINK))
        } else {
            Reply::Raw(response("302 Found", &[("location", "/loop")], ""))
        }
    })
    .await;
    let client = client(&server.base_url());
    let link = client.links().get("link_1").await.unwrap();
    assert_eq!(link.id, "link_1");
    assert_eq!(server.count(), 2);
    let err = client.links().list().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Redirect {
                refusal: RedirectRefusal::TooMany,
                ..
            }
        ),
        "{err:?}"
    );
    // 1 list + 5 followed redirects, then refused.
    assert_eq!(server.count(), 2 + 6);
}

// ---------------------------------------------------------------- key fetches

fn key_answer(request: &support_hostile::Received) -> String {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    let kid = body["key_id"].as_str().unwrap();
    response(
        "200 OK",
        &[("content-type", "application/json")],
        &serde_json::json!({"key_id": kid, "key": PEM}).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fetches_for_different_kids_run_side_by_side_and_cached_keys_never_wait() {
    const DELAY: Duration = Duration::from_millis(1500);
    let server = Hostile::start(|_, request| Reply::Slow(DELAY, key_answer(request))).await;
    let keys = RemoteKeys::new(&server.base_url())
        .with_fetch_timeout(Duration::from_secs(10))
        .with_fetch_burst(8);
    // One key cached before the slow fetches start.
    keys.key("wsk_cached").await.unwrap();

    let started = Instant::now();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let keys = keys.clone();
            tokio::spawn(async move {
                keys.key(&format!("wsk_{i}")).await.unwrap();
                started.elapsed()
            })
        })
        .collect();
    // While six slow fetches are in flight, the cached key answers at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cached_at = Instant::now();
    keys.key("wsk_cached").await.unwrap();
    let cached_wait = cached_at.elapsed();
    let mut waits = Vec::new();
    for task in tasks {
        waits.push(task.await.unwrap());
    }
    let slowest = *waits.iter().max().unwrap();
    eprintln!(
        "slow key endpoint ({} ms per fetch): 6 unknown kids, waits {:?}; slowest {} ms; cached key {} us",
        DELAY.as_millis(),
        waits.iter().map(Duration::as_millis).collect::<Vec<_>>(),
        slowest.as_millis(),
        cached_wait.as_micros()
    );
    assert!(slowest >= DELAY);
    // Serialized fetches would take 6 x 1.5 s = 9 s for the last id.
    assert!(
        slowest < DELAY * 2,
        "the 6th kid waited {slowest:?}: fetches queue behind each other"
    );
    assert!(cached_wait < Duration::from_millis(100), "{cached_wait:?}");
    assert_eq!(server.count(), 7, "one fetch per kid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_of_one_kid_share_one_fetch() {
    let server =
        Hostile::start(|_, request| Reply::Slow(Duration::from_millis(300), key_answer(request)))
            .await;
    let keys = Arc::new(RemoteKeys::new(&server.base_url()));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let keys = keys.clone();
            tokio::spawn(async move { keys.key("wsk_same").await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_key_endpoint_slower_than_the_fetch_timeout_fails_fast() {
    let server =
        Hostile::start(|_, request| Reply::Slow(Duration::from_secs(30), key_answer(request)))
            .await;
    let keys = RemoteKeys::new(&server.base_url()).with_fetch_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = keys.key("wsk_1").await.unwrap_err();
    assert!(matches!(err, KeyError::Fetch { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        passage_connect::webhook::DEFAULT_FETCH_TIMEOUT,
        Duration::from_secs(3)
    );
}

// ---------------------------------------------------------------- Retry-After

#[tokio::test]
async fn wait_gives_up_at_once_when_retry_after_is_past_the_deadline() {
    let server = Hostile::start(|_, _| {
        Reply::Raw(response(
            "429 Too Many Requests",
            &[("retry-after", "100000")],
            r#"{"error":"slow down"}"#,
        ))
    })
    .await;
    let client = Client::builder("psg_test")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .links()
        .wait_with(
            "link_1",
            &WaitOptions::default().timeout(Duration::from_secs(60)),
        )
        .await
        .unwrap_err();
    let Error::RetryAfterPastDeadline {
        retry_after,
        remaining,
        request,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*retry_after, Duration::from_secs(100_000));
    assert!(*remaining <= Duration::from_secs(60));
    assert!(request.ends_with("/v1/links/link_1"), "{request}");
    assert_eq!(
        server.count(),
        1,
        "no request after the server said to wait"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn wait_sleeps_for_retry_after_longer_than_the_retry_policy() {
    // The policy waits at most 1 s on its own; the server asks for 2 s: the wait loop honours
    // it instead of polling again after its short pause.
    let server = Hostile::start(|index, _| {
        if index == 0 {
            Reply::Raw(response(
                "429 Too Many Requests",
                &[("retry-after", "2")],
                r#"{"error":"slow down"}"#,
            ))
        } else if index == 1 {
            Reply::Raw(response("200 OK", &[], PENDING))
        } else {
            Reply::Raw(response("200 OK", &[], LINK))
        }
    })
    .await;
    let client = Client::builder("psg_test")
        .base_url(server.base_url())
        .retry_policy(RetryPolicy::default().with_max_retry_after(Duration::from_secs(1)))
        .build()
        .unwrap();
    let options = WaitOptions::default()
        .timeout(Duration::from_secs(30))
        .initial_interval(Duration::from_millis(10))
        .max_interval(Duration::from_millis(10))
        .min_interval(Duration::from_millis(10));
    let started = Instant::now();
    let link = client.links().wait_with("link_1", &options).await.unwrap();
    assert_eq!(link.status.as_str(), "complete");
    assert_eq!(server.count(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "polled again before Retry-After: {:?}",
        started.elapsed()
    );
}
