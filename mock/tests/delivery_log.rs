//! Every webhook delivery attempt is logged at info level with the link, event, URL, the
//! receiver's status, the attempt number and when the next retry goes, so a receiver that refuses
//! every delivery is visible in `passage mock`'s output.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{billing_link, create_ok, start_mock, Receiver, DEADLINE};
use serde_json::json;

/// Collects the formatted log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains("webhook deliver"))
            .map(str::to_string)
            .collect()
    }
}

// One thread: the emulator's delivery tasks run where the scoped subscriber is installed.
#[tokio::test(flavor = "current_thread")]
async fn each_attempt_is_logged_at_info_with_status_and_next_retry() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mock = start_mock().await; // retries after 100 ms and 200 ms
    let receiver = Receiver::start(vec![503, 503, 503]).await;
    let mut body = billing_link();
    let hook = format!("{}/hook", receiver.url);
    body["webhookUrl"] = json!(hook);
    let id = create_ok(&mock, &body).await["linkId"]
        .as_str()
        .unwrap()
        .to_string();
    mock.complete_link(&id, None).await.unwrap();

    let start = Instant::now();
    let lines = loop {
        let lines = captured.lines();
        if lines.len() >= 3 {
            break lines;
        }
        assert!(start.elapsed() < DEADLINE, "{lines:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for (index, line) in lines.iter().enumerate() {
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains("webhook delivery failed"), "{line}");
        assert!(line.contains(&format!("link_id={id}")), "{line}");
        assert!(line.contains("event=link.complete"), "{line}");
        assert!(line.contains(&format!("url={hook}")), "{line}");
        assert!(line.contains("status=503"), "{line}");
        assert!(line.contains(&format!("attempt={}/3", index + 1)), "{line}");
    }
    assert!(lines[0].contains("next_retry=in 0.1 s"), "{}", lines[0]);
    assert!(lines[1].contains("next_retry=in 0.2 s"), "{}", lines[1]);
    assert!(
        lines[2].contains("next_retry=none: dropped"),
        "{}",
        lines[2]
    );

    // A receiver that accepts: one line saying so.
    let ok = Receiver::start(vec![]).await;
    let mut body = billing_link();
    body["webhookUrl"] = json!(format!("{}/hook", ok.url));
    let id = create_ok(&mock, &body).await["linkId"]
        .as_str()
        .unwrap()
        .to_string();
    mock.complete_link(&id, None).await.unwrap();
    ok.wait_for(1).await;
    let start = Instant::now();
    while !captured
        .lines()
        .iter()
        .any(|l| l.contains("webhook delivered") && l.contains(&id))
    {
        assert!(start.elapsed() < DEADLINE, "{:#?}", captured.lines());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered: Vec<String> = captured
        .lines()
        .into_iter()
        .filter(|l| l.contains(&id))
        .collect();
    assert_eq!(delivered.len(), 1, "{delivered:#?}");
    assert!(
        delivered[0].contains("status=200") && delivered[0].contains("attempt=1/3"),
        "{}",
        delivered[0]
    );
    mock.shutdown().await;
}
