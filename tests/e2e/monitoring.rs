//! Watching the daemon (issue 22): `status` exit codes, the metrics endpoint, alerts by webhook
//! that do not need the mail server, one alert per problem however often it recurs, and SIGHUP.

use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const FRIDAY_0600_NY: &str = "2025-03-28T10:00:00Z";

async fn webhook_posts(hook: &MockServer) -> Vec<String> {
    hook.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect()
}

async fn metrics(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_failing_day_alerts_once_by_webhook_status_and_metrics_tell_and_sighup_fixes_it() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/paperboy"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let metrics_port = free_port();
    let closed_imap = free_port();
    let app = TestApp::spawn(Options {
        extra_config: format!(
            "[admin]\nemail = \"admin@lab.example.org\"\nwebhook = \"{}/hooks/paperboy\"\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n[imap]\nhost = \"127.0.0.1\"\nport = {closed_imap}\nsecurity = \"none\"\nusername = \"digest@lab.example.org\"\npoll_seconds = 1\ntimeout_secs = 2\n",
            hook.uri()
        ),
        ..Default::default()
    })
    .await;
    // A wrong feed address (arXiv answers 404), and retries a second apart.
    let good = std::fs::read_to_string(&app.config).unwrap();
    let broken = good.replace("/rss\"", "/no-such-feed\"").replace(
        "[schedule]\n",
        "[schedule]\nretry_base_secs = 1\nretry_max_secs = 1\n",
    );
    std::fs::write(&app.config, &broken).unwrap();

    let daemon = Daemon::start(&app, &[("PAPERBOY_FAKE_NOW", FRIDAY_0600_NY)]);
    daemon.wait_log("run finished", 3, 60).await;
    daemon.wait_log("could not poll the inbox", 2, 30).await;
    assert!(
        daemon.log().contains("arXiv answered HTTP 404 Not Found"),
        "{}",
        daemon.log()
    );
    assert_eq!(
        daemon
            .log()
            .matches("arXiv request failed; retrying")
            .count(),
        0,
        "a 404 is not tried again within a run: {}",
        daemon.log()
    );

    // status: running, but the last run failed (4) and the inbox fails (6).
    let status = app.run(&["status", "--json"]).await;
    assert_eq!(status.code, 4, "{}", status.stdout);
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let codes: Vec<i64> = v["attention"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![4, 6], "{}", status.stdout);

    // One alert per problem, not one per try: the run's and the inbox's, by webhook and mail.
    let posts = webhook_posts(&hook).await;
    let about_runs: Vec<&String> = posts.iter().filter(|p| p.contains("the run for")).collect();
    assert_eq!(about_runs.len(), 1, "{posts:#?}");
    assert!(
        about_runs[0].contains("HTTP 404 Not Found")
            && about_runs[0].contains("check [arxiv] rss_url and api_url")
            && !about_runs[0].contains("check the network"),
        "{}",
        about_runs[0]
    );
    assert_eq!(
        posts
            .iter()
            .filter(|p| p.contains("inbox cannot be read"))
            .count(),
        1,
        "{posts:#?}"
    );
    let v: serde_json::Value = serde_json::from_str(about_runs[0]).unwrap();
    let text = v["text"].as_str().unwrap();
    assert!(
        text.starts_with("paperboy: the run for ")
            && text.lines().next().unwrap().ends_with(" failed"),
        "{text}"
    );
    wait_until(20, "two alert mails", || {
        app.received_by("admin@lab.example.org").len() >= 2
    })
    .await;
    let subjects: Vec<String> = app
        .received_by("admin@lab.example.org")
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");

    let text = metrics(metrics_port).await;
    for line in [
        "paperboy_last_run_status{status=\"failed\"} 1",
        "paperboy_problems_open 2",
        "paperboy_alerts_unsent 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(
        text.lines().any(
            |l| l.starts_with("paperboy_service_errors_total{service=\"inbox\"} ")
                && !l.ends_with(" 0")
        ),
        "{text}"
    );

    // SIGHUP with a configuration that has a problem: refused, the running one kept.
    std::fs::write(
        &app.config,
        broken.replace("[metrics]", "[metrics]\nlisten = 5\n"),
    )
    .unwrap();
    daemon.hangup();
    daemon.wait_log("keeping the one running", 1, 20).await;

    // SIGHUP with the feed fixed and no inbox: the next try delivers and the webhook hears it.
    let fixed = good.replace(
        "[schedule]\n",
        "[schedule]\nretry_base_secs = 1\nretry_max_secs = 1\n",
    );
    let fixed = fixed[..fixed.find("[imap]").unwrap()].to_string();
    std::fs::write(&app.config, &fixed).unwrap();
    daemon.hangup();
    daemon
        .wait_log("SIGHUP: configuration reloaded", 1, 20)
        .await;
    wait_until(60, "digests after the fix", || {
        app.received_by("ada@lab.example.org").len() == 1
    })
    .await;
    let mut cleared = false;
    for _ in 0..100 {
        if webhook_posts(&hook)
            .await
            .iter()
            .any(|p| p.contains("went well again"))
        {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cleared, "{:#?}", webhook_posts(&hook).await);
    let status = app.run(&["status"]).await;
    assert_eq!(status.code, 0, "{}", status.stdout);
    assert!(status.stdout.contains("all is well"), "{}", status.stdout);
    let text = metrics(metrics_port).await;
    assert!(
        text.contains("paperboy_last_run_status{status=\"ok\"} 1"),
        "{text}"
    );

    // SIGHUP with the metrics on another port: they move, the old port is let go.
    let moved_port = free_port();
    let moved = fixed.replace(
        &format!("listen = \"127.0.0.1:{metrics_port}\""),
        &format!("listen = \"127.0.0.1:{moved_port}\""),
    );
    assert_ne!(moved, fixed);
    std::fs::write(&app.config, &moved).unwrap();
    daemon.hangup();
    daemon.wait_log("the metrics endpoint moved", 1, 20).await;
    assert!(metrics(moved_port)
        .await
        .contains("paperboy_last_run_status{status=\"ok\"} 1"));
    let post = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{moved_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET");
    wait_until(10, "the old metrics port let go", || {
        std::net::TcpStream::connect(("127.0.0.1", metrics_port)).is_err()
    })
    .await;

    // A new store path is not taken on the fly: refused, the running configuration kept.
    let elsewhere = moved.replace(
        "path = \"data/paperboy.db\"",
        "path = \"elsewhere/paperboy.db\"",
    );
    assert_ne!(elsewhere, moved);
    std::fs::write(&app.config, elsewhere).unwrap();
    daemon.hangup();
    daemon.wait_log("restart paperboy to move it", 1, 20).await;
    assert!(!app.dir.path().join("elsewhere").exists());
    assert!(metrics(moved_port).await.contains("paperboy_"));
    assert_eq!(daemon.term(15).await, 0);

    // Stopped: exit 3.
    let status = app.run(&["status"]).await;
    assert_eq!(status.code, 3, "{}", status.stdout);
}

#[tokio::test]
async fn with_the_mail_server_down_the_webhook_still_tells_and_a_refusing_webhook_is_named() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let mut app = TestApp::spawn(Options {
        behaviour: Behaviour {
            status: Some(401),
            ..Default::default()
        },
        extra_config: format!(
            "[admin]\nemail = \"admin@lab.example.org\"\nwebhook = \"{}/ok\"\nwebhook_format = \"text\"\n",
            hook.uri()
        ),
        ..Default::default()
    })
    .await;
    app.stop_smtp();
    let run = app.run(&["digest"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let posts = hook.received_requests().await.unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].headers.get("title").unwrap().to_str().unwrap(),
        "paperboy: the run for 2025-03-28 failed"
    );
    let body = String::from_utf8_lossy(&posts[0].body);
    assert!(body.contains("Renew the model API key"), "{body}");
    // The mailed alert waits for the server; status says so.
    let status = app.run(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(v["alerts_unsent"], 1, "{}", status.stdout);
    assert!(
        app.count("SELECT failing FROM health WHERE service = 'mail'") >= 1,
        "the mail transport's failures are recorded for status and the metrics"
    );
    // Nothing listens: the server was not reached, it did not refuse anything.
    let said: String = app
        .db()
        .query_row("SELECT error FROM health WHERE service = 'mail'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        said.contains("could not reach SMTP") && !said.contains("refused the message"),
        "{said}"
    );

    // A webhook that answers 404: said as such, not as the network.
    let config = std::fs::read_to_string(&app.config)
        .unwrap()
        .replace("/ok\"", "/wrong\"");
    std::fs::write(&app.config, config).unwrap();
    let run = app.run(&["digest", "--date", "2025-03-27"]).await;
    assert!(
        run.stderr
            .contains("answered HTTP 404 Not Found: check [admin] webhook"),
        "{}",
        run.stderr
    );
    let status = app.run(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        v["attention"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == 7
                && a["what"]
                    .as_str()
                    .unwrap()
                    .contains("the webhook failed the last alert")),
        "{}",
        status.stdout
    );
}
