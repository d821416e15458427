//! `CONTROL_ROUTES` (what `passage mock` prints on start) lists exactly routes the emulator
//! serves: each one, with a real link id, is answered by its handler (never 404 or 405).

mod common;

use common::{billing_link, client, create_ok, start_mock};
use passage_mock::CONTROL_ROUTES;

#[tokio::test]
async fn every_listed_control_route_is_served() {
    let mock = start_mock().await;
    let http = client();
    assert_eq!(CONTROL_ROUTES.len(), 7);
    for route in CONTROL_ROUTES {
        let id = create_ok(&mock, &billing_link()).await["linkId"]
            .as_str()
            .unwrap()
            .to_string();
        let url = format!("{}{}", mock.base_url(), route.path.replace("{id}", &id));
        let mut request = http.request(route.method.parse().unwrap(), &url);
        if route.path == "/sandbox/faults" && route.method == "POST" {
            request = request
                .json(&serde_json::json!({"route": "GET /v1/links", "status": 503, "times": 1}));
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert!(
            status != 404 && status != 405 && status < 500,
            "{} {} answered {status}",
            route.method,
            route.path
        );
    }
    mock.shutdown().await;
}
