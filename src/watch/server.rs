//! The HTTP endpoint of `watch`: `/metrics` (Prometheus text), `/healthz`
//! and `/report[?window=1m|10m|1h]` (a window's report, the JSON
//! contract). It only serves pages the loop rendered; a request never
//! measures. Bounded: at most [`MAX_CONNECTIONS`] at once (others wait in
//! the kernel's backlog), [`MAX_HEAD_BYTES`] of request head, and each
//! connection closed after [`CONNECTION_TIME`]; only GET and HEAD.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// Largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// Longest a connection lives.
pub const CONNECTION_TIME: Duration = Duration::from_secs(10);

/// What the loop publishes for the server.
#[derive(Debug, Default)]
pub struct Pages {
    /// The `/metrics` page.
    pub metrics: String,
    /// Each window's name and report JSON, shortest first.
    pub reports: Vec<(String, String)>,
    /// When the last tick finished.
    pub last_tick: Option<Instant>,
    /// Longest a tick may be late before `/healthz` fails.
    pub stale_after: Duration,
}

/// The pages, shared between the loop and the server.
pub type Shared = Arc<Mutex<Pages>>;

/// Binds `addr` (an error names `--listen`).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("--listen {addr}: cannot listen"))
}

/// Serves `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, pages: Shared) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let pages = pages.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let pages = pages.clone();
                async move { Ok::<_, Infallible>(answer(&req, &pages)) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .max_buf_size(MAX_HEAD_BYTES)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIME, conn).await;
            drop(permit);
        });
    }
}

fn reply(status: StatusCode, kind: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = kind.parse() {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

/// The answer to one request.
fn answer(req: &Request<Incoming>, pages: &Shared) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    let Ok(p) = pages.lock() else {
        return reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            String::new(),
        );
    };
    match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            p.metrics.clone(),
        ),
        "/healthz" => match p.last_tick {
            Some(t) if t.elapsed() <= p.stale_after => {
                reply(StatusCode::OK, "text/plain", "ok\n".into())
            }
            Some(t) => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("last tick {:.0} s ago\n", t.elapsed().as_secs_f64()),
            ),
            None => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "no tick yet\n".into(),
            ),
        },
        "/report" => report(req.uri().query(), &p),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "/metrics, /healthz, /report[?window=NAME]\n".into(),
        ),
    }
}

fn report(query: Option<&str>, p: &Pages) -> Response<Full<Bytes>> {
    let wanted = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("window="));
    let found = match wanted {
        Some(w) => p.reports.iter().find(|(name, _)| name == w),
        None => p.reports.first(),
    };
    match found {
        Some((_, json)) => reply(StatusCode::OK, "application/json", json.clone()),
        None => {
            let names: Vec<&str> = p.reports.iter().map(|(n, _)| n.as_str()).collect();
            reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                format!("no such window yet; windows: {}\n", names.join(", ")),
            )
        }
    }
}
