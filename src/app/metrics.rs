//! `[metrics] listen`: the daemon's state in the Prometheus text format, read from the store at
//! each scrape (so it says what the store says, whoever wrote it). Bound to loopback by default.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::store::health::{Service, Snapshot};
use crate::store::Store;

/// The metrics as text, from one snapshot of the store.
pub fn render(s: &Snapshot) -> String {
    let mut r = <Registry>::with_prefix("paperboy");
    let gauge = |r: &mut Registry, name: &str, help: &str, v: i64| {
        let g = Gauge::<i64>::default();
        g.set(v);
        r.register(name, help, g);
    };
    gauge(
        &mut r,
        "store_schema",
        "The store's schema version",
        i64::from(crate::store::schema::SCHEMA_VERSION),
    );
    let status = Family::<Vec<(String, String)>, Gauge>::default();
    let (mut at, mut papers) = (0, 0);
    if let Some((st, when, n)) = &s.last_run {
        for kind in [
            "ok",
            "degraded",
            "failed",
            "interrupted",
            "no_announcement",
            "running",
        ] {
            status
                .get_or_create(&vec![("status".into(), kind.into())])
                .set(i64::from(st == kind));
        }
        at = chrono::DateTime::parse_from_rfc3339(when).map_or(0, |t| t.timestamp());
        papers = *n;
    }
    r.register(
        "last_run_status",
        "1 for the status the last digest run ended with",
        status,
    );
    gauge(
        &mut r,
        "last_run_timestamp_seconds",
        "When the last digest run ended (Unix time; 0: never)",
        at,
    );
    gauge(
        &mut r,
        "last_run_papers",
        "Papers the last digest run fetched",
        papers,
    );
    let digests = Family::<Vec<(String, String)>, Gauge>::default();
    for status in ["sent", "pending", "failed"] {
        let n = s
            .digests
            .iter()
            .find(|(st, _)| st == status)
            .map_or(0, |(_, n)| *n);
        digests
            .get_or_create(&vec![("status".into(), status.into())])
            .set(n);
    }
    r.register("digests", "Digests recorded, by delivery status", digests);
    gauge(
        &mut r,
        "queue_depth",
        "Mail waiting in the outbox: digests, alerts and answers",
        s.queue_depth,
    );
    gauge(
        &mut r,
        "alerts_unsent",
        "Alerts to the admin refused or still waiting after a try",
        s.alerts_unsent,
    );
    gauge(
        &mut r,
        "problems_open",
        "Problems the admin was told about that have not cleared",
        s.open_problems,
    );
    let spend = Counter::<f64, AtomicU64>::default();
    spend.inc_by(s.spend_micros as f64 / 1e6);
    r.register(
        "model_spend_usd",
        "Dollars spent on model calls (priced calls)",
        spend,
    );
    let tokens = Family::<Vec<(String, String)>, Counter>::default();
    tokens
        .get_or_create(&vec![("kind".into(), "prompt".into())])
        .inc_by(s.prompt_tokens.max(0) as u64);
    tokens
        .get_or_create(&vec![("kind".into(), "completion".into())])
        .inc_by(s.completion_tokens.max(0) as u64);
    r.register(
        "model_tokens",
        "Tokens sent to and received from the model",
        tokens,
    );
    let failures = Family::<Vec<(String, String)>, Counter>::default();
    let failing = Family::<Vec<(String, String)>, Gauge>::default();
    for service in ["inbox", "mail", "webhook"] {
        let h = s.services.iter().find(|h| h.service == service);
        let labels = vec![("service".to_string(), service.to_string())];
        failures
            .get_or_create(&labels)
            .inc_by(h.map_or(0, |h| h.failures.max(0) as u64));
        failing
            .get_or_create(&labels)
            .set(h.map_or(0, |h| h.failing));
    }
    r.register(
        "service_errors",
        "Failures of the inbox, the outgoing mail and the webhook",
        failures,
    );
    r.register(
        "service_failing",
        "Failures in a row, now (0: working)",
        failing,
    );
    let mut out = String::new();
    encode(&mut out, &r).expect("writing to a String cannot fail");
    out
}

/// Takes the metrics address (before the daemon starts work, so a taken port fails the start).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr} ([metrics] listen)"))?;
    tracing::info!(%addr, "metrics at http://{addr}/metrics");
    Ok(listener)
}

/// Connections served at once; more wait in the kernel's queue, using no descriptor.
const MAX_CONNECTIONS: usize = 64;
/// A client must send its request's head within this, and is done within `CONNECTION_TIMEOUT`.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);
/// The pause after a failed accept, doubling up to `MAX_PAUSE` while the failures last.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Serves `GET /metrics` on `listener` until `cancel`: at most [`MAX_CONNECTIONS`] at once,
/// each bounded in time. A failed accept (out of file descriptors, most often) pauses the loop,
/// is logged once for the spell it begins, and is recorded in `health` for `status`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: Store,
    cancel: tokio_util::sync::CancellationToken,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut spell: Option<Spell> = None;
    loop {
        let permit = tokio::select! {
            _ = cancel.cancelled() => return,
            p = Arc::clone(&permits).acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                if spell.as_ref().is_some_and(Spell::over) {
                    spell.take().expect("a spell").ended(&store).await;
                }
                tokio::spawn(connection(stream, store.clone(), permit));
            }
            Err(e) => {
                drop(permit);
                let pause = match &mut spell {
                    Some(s) => s.again(),
                    None => spell.insert(Spell::began(&e, &store).await).pause,
                };
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// One connection, holding its permit until it is done.
async fn connection(
    stream: tokio::net::TcpStream,
    store: Store,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
        let store = store.clone();
        async move { Ok::<_, std::convert::Infallible>(answer(&store, &req).await) }
    });
    let io = hyper_util::rt::TokioIo::new(stream);
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(16 * 1024)
        .serve_connection(io, service);
    // A client that stalls is dropped, not waited on.
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, conn).await;
}

/// A run of failed accepts: logged when it begins and when it ends, never per failure. It ends
/// at the first accept after [`QUIET`] without a failure (an attack that keeps the descriptors
/// taken lets one connection through now and then: that is not the end of it).
struct Spell {
    began: std::time::Instant,
    last: std::time::Instant,
    failures: u64,
    pause: Duration,
}

const QUIET: Duration = Duration::from_secs(10);

impl Spell {
    async fn began(e: &std::io::Error, store: &Store) -> Spell {
        let what = accept_error(e);
        tracing::warn!("metrics: cannot accept connections: {what}; pausing, and saying so once until it clears");
        if let Err(e) = store
            .record_health(Service::Metrics, Err(what.clone()))
            .await
        {
            tracing::warn!(error = %format!("{e:#}"), "metrics: cannot record the endpoint's health");
        }
        Spell {
            began: std::time::Instant::now(),
            last: std::time::Instant::now(),
            failures: 1,
            pause: FIRST_PAUSE,
        }
    }

    fn over(&self) -> bool {
        self.last.elapsed() >= QUIET
    }

    fn again(&mut self) -> Duration {
        self.failures += 1;
        if self.over() {
            // Failures again after a quiet while: the same spell, starting its pauses over.
            self.pause = FIRST_PAUSE;
        }
        self.last = std::time::Instant::now();
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        self.pause
    }

    async fn ended(self, store: &Store) {
        tracing::info!(
            failures = self.failures,
            secs = self.began.elapsed().as_secs(),
            "metrics: accepting connections again"
        );
        let _ = store.record_health(Service::Metrics, Ok(())).await;
    }
}

/// What a failed accept means, in words an admin can act on.
fn accept_error(e: &std::io::Error) -> String {
    crate::support::limits::io_problem(e)
}

async fn answer<B>(store: &Store, req: &Request<B>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, ctype: &str, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", ctype)
            .body(Full::new(Bytes::from(body)))
            .expect("a valid response")
    };
    if req.uri().path() == "/metrics" && req.method() != hyper::Method::GET {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "paperboy serves GET /metrics\n".into(),
        );
        r.headers_mut()
            .insert("allow", hyper::header::HeaderValue::from_static("GET"));
        return r;
    }
    if req.uri().path() != "/metrics" {
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "paperboy serves GET /metrics\n".into(),
        );
    }
    match store.snapshot().await {
        Ok(s) => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            render(&s),
        ),
        Err(e) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            format!("cannot read the store: {e:#}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_reads_as_prometheus_text() {
        let s = Snapshot {
            last_run: Some(("failed".into(), "2025-03-28T10:00:00Z".into(), 17)),
            digests: vec![("sent".into(), 40), ("failed".into(), 2)],
            queue_depth: 3,
            spend_micros: 1_250_000,
            prompt_tokens: 1000,
            completion_tokens: 50,
            alerts_unsent: 1,
            services: vec![crate::store::health::ServiceHealth {
                service: "inbox".into(),
                ok_at: None,
                failed_at: Some("x".into()),
                error: Some("refused".into()),
                failing: 2,
                failures: 5,
            }],
            open_problems: 1,
        };
        let text = render(&s);
        for line in [
            "paperboy_last_run_status{status=\"failed\"} 1",
            "paperboy_last_run_status{status=\"ok\"} 0",
            "paperboy_last_run_timestamp_seconds 1743156000",
            "paperboy_last_run_papers 17",
            "paperboy_digests{status=\"failed\"} 2",
            "paperboy_digests{status=\"pending\"} 0",
            "paperboy_queue_depth 3",
            "paperboy_model_spend_usd_total 1.25",
            "paperboy_model_tokens_total{kind=\"prompt\"} 1000",
            "paperboy_service_errors_total{service=\"inbox\"} 5",
            "paperboy_service_errors_total{service=\"mail\"} 0",
            "paperboy_service_failing{service=\"inbox\"} 2",
            "paperboy_alerts_unsent 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
