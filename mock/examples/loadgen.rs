//! Load generator for the emulator: N workers each loop "create a link, then poll it" over
//! keep-alive HTTP/1.1 connections on 127.0.0.1, bounded by a duration and a request cap, and
//! report requests/s with p50/p99 latency per route.
//!
//! ```text
//! cargo run --release -p passage-mock --example loadgen -- [--duration-secs 10] [--concurrency 16]
//!     [--max-requests 200000] [--polls-per-link 3] [--url http://127.0.0.1:4010 --api-key KEY]
//! ```
//! Without `--url` it starts an in-process emulator (sharing the machine's cores with the load).
//! Only loopback URLs are accepted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use passage_mock::{MockConfig, MockServer};
use serde_json::json;

struct Options {
    duration: Duration,
    concurrency: usize,
    max_requests: u64,
    polls_per_link: usize,
    url: Option<String>,
    api_key: String,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        duration: Duration::from_secs(10),
        concurrency: 16,
        max_requests: 200_000,
        polls_per_link: 3,
        url: None,
        api_key: passage_mock::DEFAULT_API_KEY.to_string(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |text: String| text.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--duration-secs" => {
                options.duration = Duration::from_secs(number(value()?)?.clamp(1, 300))
            }
            "--concurrency" => options.concurrency = number(value()?)?.clamp(1, 1024) as usize,
            "--max-requests" => options.max_requests = number(value()?)?.max(1),
            "--polls-per-link" => options.polls_per_link = number(value()?)?.min(100) as usize,
            "--url" => options.url = Some(value()?),
            "--api-key" => options.api_key = value()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if let Some(url) = &options.url {
        let host = url::Url::parse(url).map_err(|e| format!("--url: {e}"))?;
        if !matches!(
            host.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        ) {
            return Err("--url must point at a loopback address".into());
        }
    }
    Ok(options)
}

#[derive(Default)]
struct Samples {
    create: Vec<Duration>,
    poll: Vec<Duration>,
    errors: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(name: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    println!(
        "{name:<22} {:>8} requests {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_options()?;
    let mock = match &options.url {
        Some(_) => None,
        None => Some(MockServer::start(MockConfig::default()).await?),
    };
    let base = match (&options.url, &mock) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(mock)) => mock.base_url(),
        (None, None) => unreachable!("a mock is started when no --url is given"),
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(10))
        .build()?;
    let body = json!({"integrationId":"tmobile","operations":[
        {"resource":"paymentMethod","action":"write","arguments":{"cardNumber":"4111111111111111","expirationDate":"12/28","cvv":"123","nameOnCard":"Load Test","billingZip":"10001"}}],
        "returnUrl":"https://example.com/done","expiresIn":3600});
    let body = Arc::new(serde_json::to_vec(&body)?);
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + options.duration;
    println!(
        "loadgen: {} workers, {:?} max, {} requests max, create + {} polls per link, against {}",
        options.concurrency, options.duration, options.max_requests, options.polls_per_link, base
    );
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.concurrency {
        let (client, base, body, issued, key) = (
            client.clone(),
            base.clone(),
            Arc::clone(&body),
            Arc::clone(&issued),
            options.api_key.clone(),
        );
        let (max, polls) = (options.max_requests, options.polls_per_link);
        workers.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let take = |n: u64| issued.fetch_add(n, Ordering::Relaxed) + n <= max;
            while Instant::now() < deadline && take(1) {
                let start = Instant::now();
                let created = client
                    .post(format!("{base}/v1/links"))
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body.as_ref().clone())
                    .send()
                    .await;
                let id = match created {
                    Ok(response) if response.status().as_u16() == 201 => {
                        let value: serde_json::Value = response.json().await.unwrap_or_default();
                        samples.create.push(start.elapsed());
                        value["linkId"].as_str().unwrap_or_default().to_string()
                    }
                    _ => {
                        samples.errors += 1;
                        continue;
                    }
                };
                for _ in 0..polls {
                    if Instant::now() >= deadline || !take(1) {
                        break;
                    }
                    let start = Instant::now();
                    match client
                        .get(format!("{base}/v1/links/{id}"))
                        .bearer_auth(&key)
                        .send()
                        .await
                    {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            samples.poll.push(start.elapsed());
                        }
                        _ => samples.errors += 1,
                    }
                }
            }
            samples
        }));
    }
    let mut all = Samples::default();
    for worker in workers {
        let samples = worker.await?;
        all.create.extend(samples.create);
        all.poll.extend(samples.poll);
        all.errors += samples.errors;
    }
    let elapsed = started.elapsed();
    let mut combined = all.create.clone();
    combined.extend(all.poll.iter().copied());
    println!(
        "elapsed {:.2} s, errors {}",
        elapsed.as_secs_f64(),
        all.errors
    );
    report("POST /v1/links", all.create, elapsed);
    report("GET /v1/links/{id}", all.poll, elapsed);
    report("total", combined, elapsed);
    if let Some(mock) = mock {
        println!("links stored: {}", mock.link_count());
        mock.shutdown().await;
    }
    Ok(())
}
