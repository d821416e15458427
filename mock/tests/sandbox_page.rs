//! The sandbox page at `appClipUrl`: HTML checks over HTTP (claim on open, escaping, access by
//! claim code, terminal states), and a real headless Chromium driven over the Chrome DevTools
//! Protocol that edits the sample data, clicks "Complete"/"Fail" and lands on `returnUrl`.
//!
//! The browser is `$PASSAGE_CHROMIUM`, else `chromium`, `chromium-browser`, `google-chrome` on
//! PATH. Without one the browser test is skipped with a message, except under `CI=true` where
//! it fails.

#[path = "../../tests/skip_record/mod.rs"]
mod skip_record;
use skip_record::record_skip;

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use futures::{SinkExt, StreamExt};
use passage_mock::MockConfig;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------- plain HTTP checks of the page

#[tokio::test]
async fn opening_the_page_claims_the_link() {
    let mock = start_mock().await;
    let created = create_ok(&mock, &billing_link()).await;
    let id = created["linkId"].as_str().unwrap();
    let url = created["appClipUrl"].as_str().unwrap();
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let html = response.text().await.unwrap();
    for needle in [
        "T-Mobile",
        "mobileBillingStatement",
        "id=\"complete\"",
        "id=\"fail\"",
        "AUTOMATION_ERROR",
        "<textarea",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    assert!(!html.contains("src=\"http"), "no external assets");
    let (_, link) = get_link(&mock, id).await;
    assert_eq!(link["status"], "active");
    assert!(link["currentSessionId"].is_string());
    // The app's own claim now conflicts, as with a real claim in progress.
    assert_eq!(
        claim(&mock, &json!({"code": created["claimCode"]})).await.0,
        409
    );
    // Reloading the page shows it again.
    assert_eq!(
        client().get(url).send().await.unwrap().status().as_u16(),
        200
    );
}

#[tokio::test]
async fn the_page_needs_the_right_code_and_reports_terminal_states() {
    let mock = start_mock().await;
    let created = create_ok(&mock, &billing_link()).await;
    let id = created["linkId"].as_str().unwrap();
    for url in [
        format!("{}/sandbox/{id}", mock.base_url()),
        format!("{}/sandbox/{id}?code=clm_wrong", mock.base_url()),
        format!(
            "{}/sandbox/link_nope?code={}",
            mock.base_url(),
            created["claimCode"].as_str().unwrap()
        ),
    ] {
        assert_eq!(
            client().get(&url).send().await.unwrap().status().as_u16(),
            404,
            "{url}"
        );
    }
    assert_eq!(
        get_link(&mock, id).await.1["status"],
        "pending",
        "a bad code claims nothing"
    );
    // A form post with a wrong code changes nothing.
    let response = client()
        .post(format!("{}/sandbox/{id}/complete", mock.base_url()))
        .form(&[("code", "clm_wrong"), ("op_0", "{}")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(get_link(&mock, id).await.1["status"], "pending");

    let url = created["appClipUrl"].as_str().unwrap();
    mock.complete_link(id, None).await.unwrap();
    assert_eq!(
        client().get(url).send().await.unwrap().status().as_u16(),
        409
    );
    let created = create_ok(&mock, &billing_link()).await;
    mock.expire_link(created["linkId"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        client()
            .get(created["appClipUrl"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        410
    );
}

#[tokio::test]
async fn hostile_names_are_escaped() {
    let catalog = passage_catalog::Catalog::from_slice(
        br#"{"providers":[{"id":"evil","name":"<script>alert('name')</script>","resources":[{"name":"thing","operations":{"read":{"description":"<img src=x onerror=alert(1)>","arguments":null,"result":{"type":"object","properties":{"s":{"type":"string","const":"</textarea><script>alert(2)</script>"}},"required":["s"]}}}}]}]}"#,
    )
    .unwrap();
    let mock = start_with(MockConfig::default().with_catalog(catalog)).await;
    let created = create_ok(
        &mock,
        &json!({"integrationId":"evil","operations":[{"resource":"thing","action":"read"}]}),
    )
    .await;
    let html = client()
        .get(created["appClipUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("</textarea><script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;"));
    // Exactly one real script element: the page's own.
    assert_eq!(html.matches("<script>").count(), 1);
}

#[tokio::test]
async fn form_posts_complete_or_fail_and_redirect() {
    let mock = start_mock().await;
    let mut body = billing_link();
    body["returnUrl"] = json!("https://your-app.com/done");
    let created = create_ok(&mock, &body).await;
    let id = created["linkId"].as_str().unwrap();
    let code = created["claimCode"].as_str().unwrap();
    let complete_url = format!("{}/sandbox/{id}/complete", mock.base_url());
    // Not JSON: the form comes back with the problem, nothing changes.
    let response = client()
        .post(&complete_url)
        .form(&[("code", code), ("op_0", "{oops")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("not valid JSON"));
    assert_ne!(get_link(&mock, id).await.1["status"], "complete");
    // Fail with a chosen code, then complete: 303 to the returnUrl each time.
    let response = client()
        .post(format!("{}/sandbox/{id}/fail", mock.base_url()))
        .form(&[
            ("code", code),
            ("error_code", "CLIENT_TIMEOUT"),
            ("message", "too slow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("https://your-app.com/done?linkId={id}").as_str()
    );
    assert_eq!(
        get_link(&mock, id).await.1["error"],
        json!({"code":"CLIENT_TIMEOUT","message":"too slow"})
    );
    let data = r#"{"billing":[{"periodStart":"02/15/2025","amountDue":12.5,"currency":"EUR"}]}"#;
    let response = client()
        .post(&complete_url)
        .form(&[("code", code), ("op_0", data)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let (_, link) = get_link(&mock, id).await;
    assert_eq!(link["status"], "complete");
    assert_eq!(link["result"], serde_json::from_str::<Value>(data).unwrap());
}

// ------------------------------------------------------------------- the real browser test

fn find_browser() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PASSAGE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// A headless Chromium, killed (by its own handle) when dropped.
struct Browser {
    child: Child,
    ws_url: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch(path: &PathBuf) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(path)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", path.display()));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_string());
                }
            }
        });
        let ws_url = match rx.recv_timeout(DEADLINE) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("the browser never printed its DevTools URL");
            }
        };
        Browser {
            child,
            ws_url,
            _profile: profile,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Give a `Browser.close` time to end it cleanly (so it reaps its helpers), then kill.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal Chrome DevTools Protocol client over one WebSocket (flattened sessions).
struct Cdp {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    session: Option<String>,
}

impl Cdp {
    async fn connect(url: &str) -> Cdp {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("CDP connects");
        Cdp {
            socket,
            next_id: 0,
            session: None,
        }
    }

    /// Sends a command and waits for its answer (events in between are ignored).
    async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::Text(message.to_string()))
            .await
            .expect("CDP send");
        loop {
            let frame = tokio::time::timeout(DEADLINE, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no CDP answer to {method}"))
                .expect("CDP socket open")
                .expect("CDP frame");
            let Message::Text(text) = frame else { continue };
            let value: Value = serde_json::from_str(&text).expect("CDP JSON");
            if value["id"] == id {
                return match value.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(value["result"].clone()),
                };
            }
        }
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .await
            .unwrap_or_else(|err| panic!("{method} failed: {err}"))
    }

    /// Evaluates JS in the page; `Err` while the page is navigating.
    async fn eval(&mut self, expression: &str) -> Result<Value, Value> {
        let result = self
            .try_call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(exception.clone());
        }
        Ok(result["result"]["value"].clone())
    }

    /// Polls `expression` until it returns `true`.
    async fn wait_until(&mut self, expression: &str) {
        let start = Instant::now();
        loop {
            if self.eval(expression).await == Ok(Value::Bool(true)) {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for `{expression}`"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A real mouse click (pressed + released) in the middle of the element.
    async fn click(&mut self, selector: &str) {
        let rect = self
            .eval(&format!(
                "(() => {{ const e = document.querySelector({sel}); e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); return {{x: r.x + r.width / 2, y: r.y + r.height / 2}}; }})()",
                sel = json!(selector)
            ))
            .await
            .unwrap_or_else(|err| panic!("no element {selector}: {err}"));
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": rect["x"], "y": rect["y"], "button": "left", "clickCount": 1}),
            )
            .await;
        }
    }

    /// Replaces a textarea's content by typing into it.
    async fn type_into(&mut self, selector: &str, text: &str) {
        self.eval(&format!("(() => {{ const e = document.querySelector({}); e.focus(); e.select(); return true; }})()", json!(selector)))
            .await
            .expect("focus");
        self.call("Input.insertText", json!({"text": text})).await;
    }

    /// Asks the browser to exit (browser-level command, no answer awaited).
    async fn close_browser(mut self) {
        let message = json!({"id": self.next_id + 1, "method": "Browser.close", "params": {}});
        let _ = self.socket.send(Message::Text(message.to_string())).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.socket.next()).await;
    }

    async fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_until(
            "document.readyState === 'complete' && !!document.getElementById('complete')",
        )
        .await;
    }
}

#[tokio::test]
async fn headless_chromium_completes_and_fails_links_with_real_clicks() {
    let Some(browser_path) = find_browser() else {
        assert!(
            std::env::var("CI").map(|v| v != "true").unwrap_or(true),
            "CI=true but no Chromium found (install the `chromium` package or set PASSAGE_CHROMIUM)"
        );
        eprintln!("SKIPPED: no Chromium found (apt-get install chromium, or set PASSAGE_CHROMIUM)");
        record_skip("no Chromium found (apt-get install chromium, or set PASSAGE_CHROMIUM)");
        return;
    };
    let mock = start_mock().await;
    let app = Receiver::start(vec![]).await;
    let browser = Browser::launch(&browser_path);
    let mut cdp = Cdp::connect(&browser.ws_url).await;
    let target = cdp
        .call("Target.createTarget", json!({"url": "about:blank"}))
        .await;
    let attached = cdp
        .call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        )
        .await;
    cdp.session = Some(attached["sessionId"].as_str().unwrap().to_string());
    cdp.call("Page.enable", json!({})).await;
    cdp.call("Runtime.enable", json!({})).await;

    // 1. Edit the sample data, click Complete, land on the returnUrl.
    let mut body = billing_link();
    body["returnUrl"] = json!(format!("{}/done?from=sandbox", app.url));
    let created = create_ok(&mock, &body).await;
    let id = created["linkId"].as_str().unwrap().to_string();
    cdp.open(created["appClipUrl"].as_str().unwrap()).await;
    assert_eq!(
        get_link(&mock, &id).await.1["status"],
        "active",
        "opening the page claims the link"
    );
    let sample: Value = serde_json::from_str(
        cdp.eval("document.getElementById('op_0').value")
            .await
            .unwrap()
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(
        sample["billing"].is_array(),
        "prefilled with sample data: {sample}"
    );
    let edited = json!({"billing":[{"statementId":"edited-in-chromium","periodStart":"03/01/2025","amountDue":42.5,"currency":"USD"}]});
    cdp.type_into("#op_0", &serde_json::to_string_pretty(&edited).unwrap())
        .await;
    cdp.click("#complete").await;
    let landed = format!("{}/done", app.url);
    cdp.wait_until(&format!(
        "location.href.startsWith({}) && document.readyState === 'complete'",
        json!(landed)
    ))
    .await;
    let href = cdp.eval("location.href").await.unwrap();
    assert_eq!(
        href,
        json!(format!("{}/done?from=sandbox&linkId={id}", app.url))
    );
    let (_, link) = get_link(&mock, &id).await;
    assert_eq!(link["status"], "complete");
    assert_eq!(link["result"], edited, "the edited data is the result");
    assert!(app
        .received()
        .iter()
        .any(|r| r.query.as_deref() == Some(&*format!("from=sandbox&linkId={id}"))));

    // 2. Invalid JSON is refused in the page: nothing is submitted.
    let created = create_ok(&mock, &billing_link()).await;
    let id = created["linkId"].as_str().unwrap().to_string();
    cdp.open(created["appClipUrl"].as_str().unwrap()).await;
    cdp.type_into("#op_0", "{not json").await;
    cdp.click("#complete").await;
    cdp.wait_until("document.getElementById('op_0_error').textContent.includes('Not valid JSON')")
        .await;
    assert_eq!(get_link(&mock, &id).await.1["status"], "active");

    // 3. Two operations, no returnUrl: unedited samples, Complete shows the done page.
    let created = create_ok(
        &mock,
        &json!({"integrationId":"verizon","operations":[{"resource":"paymentMethod","action":"read"},{"resource":"mobileBillingStatement","action":"read"}]}),
    )
    .await;
    let id = created["linkId"].as_str().unwrap().to_string();
    cdp.open(created["appClipUrl"].as_str().unwrap()).await;
    let first: Value = serde_json::from_str(
        cdp.eval("document.getElementById('op_0').value")
            .await
            .unwrap()
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let second: Value = serde_json::from_str(
        cdp.eval("document.getElementById('op_1').value")
            .await
            .unwrap()
            .as_str()
            .unwrap(),
    )
    .unwrap();
    cdp.click("#complete").await;
    cdp.wait_until("document.readyState === 'complete' && document.title === 'Link complete'")
        .await;
    let (_, link) = get_link(&mock, &id).await;
    assert_eq!(link["status"], "complete");
    assert_eq!(
        link["result"],
        json!({"operations":[
            {"resource":"paymentMethod","action":"read","data":first},
            {"resource":"mobileBillingStatement","action":"read","data":second}]})
    );

    // 4. Fail with a chosen code via the select, then land on the returnUrl.
    let mut body = billing_link();
    body["returnUrl"] = json!(format!("{}/done", app.url));
    let created = create_ok(&mock, &body).await;
    let id = created["linkId"].as_str().unwrap().to_string();
    cdp.open(created["appClipUrl"].as_str().unwrap()).await;
    cdp.eval("document.getElementById('error_code').value = 'CONNECTION_FAILED'")
        .await
        .unwrap();
    cdp.type_into("#message", "carrier site down").await;
    cdp.click("#fail").await;
    cdp.wait_until(&format!(
        "location.href === {}",
        json!(format!("{}/done?linkId={id}", app.url))
    ))
    .await;
    let (_, link) = get_link(&mock, &id).await;
    assert_eq!(link["status"], "failed");
    assert_eq!(
        link["error"],
        json!({"code":"CONNECTION_FAILED","message":"carrier site down"})
    );

    cdp.close_browser().await;
    drop(browser);
}
