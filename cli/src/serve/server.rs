//! The HTTP side of `authgate serve`: HTTP/1.1 in front of the gateway, one log line per request.
//!
//! A development server still meets the internet's manners: a client gets [`Limits::header`] to
//! send its request head and [`Limits::body`] to send its body, or it is dropped (408 for a slow
//! body); at most [`Limits::connections`] connections are served at once, and one more is answered
//! 503 and closed instead of waiting. Every answer the server itself gives is JSON with `detail`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::Response;
use futures::StreamExt;
use hyper::StatusCode;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use super::gateway::{Gateway, IncomingRequest, MAX_PAYLOAD_BYTES};

/// How long and how many: what keeps slow or numerous clients from starving the server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send the request line and headers, and the most a kept-alive connection idles.
    pub header: Duration,
    /// Time to send the whole body once the headers are in.
    pub body: Duration,
    /// Connections served at once.
    pub connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(10),
            body: Duration::from_secs(10),
            connections: 256,
        }
    }
}

/// A JSON `{"detail": ...}` answer from the server itself; the connection closes after it.
fn server_answer(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({ "detail": detail }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Why a body could not be read.
enum BodyError {
    TooLarge,
    Broken,
    Slow,
}

async fn read_body(body: Body, limits: Limits) -> Result<Vec<u8>, BodyError> {
    let read = async {
        let mut stream = body.into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            if bytes.len() + chunk.len() > MAX_PAYLOAD_BYTES {
                return Err(BodyError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    tokio::time::timeout(limits.body, read)
        .await
        .unwrap_or(Err(BodyError::Slow))
}

async fn serve_one(
    gateway: Arc<Gateway>,
    limits: Limits,
    peer: SocketAddr,
    request: hyper::Request<hyper::body::Incoming>,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let response = match read_body(Body::new(body), limits).await {
        Ok(bytes) => {
            let outgoing = gateway
                .handle(IncomingRequest {
                    method: &method,
                    path: &path,
                    query: parts.uri.query(),
                    headers: &parts.headers,
                    body: &bytes,
                    source_ip: peer.ip().to_string(),
                })
                .await;
            let mut response = Response::new(Body::from(outgoing.body));
            *response.status_mut() = outgoing.status;
            *response.headers_mut() = outgoing.headers;
            response
        }
        Err(BodyError::TooLarge) => {
            let outgoing = gateway.payload_too_large();
            let mut response = Response::new(Body::from(outgoing.body));
            *response.status_mut() = outgoing.status;
            *response.headers_mut() = outgoing.headers;
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            response
        }
        Err(BodyError::Slow) => server_answer(StatusCode::REQUEST_TIMEOUT, "Request Timeout"),
        Err(BodyError::Broken) => server_answer(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    // Method, path, status and time only: never headers, tokens or bodies.
    tracing::info!(
        target: "authgate::access",
        "{method} {path} {} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// The answer to a connection over the limit, written straight to the socket.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\ncontent-length: 33\r\nconnection: close\r\n\r\n\
{\"detail\":\"Too many connections\"}";

/// Serves `gateway` on `listener` with the default [`Limits`] until `shutdown` completes.
pub async fn run(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_with(gateway, listener, Limits::default(), shutdown).await
}

/// Serves `gateway` on `listener` within `limits` until `shutdown` completes, then lets the
/// requests in flight finish (for at most a few seconds).
pub async fn run_with(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (mut stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.connections, "too many connections; refused one");
            tokio::spawn(async move {
                let answer = stream.write_all(TOO_MANY_CONNECTIONS);
                let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
            });
            continue;
        };
        let gateway = Arc::clone(&gateway);
        let service = hyper::service::service_fn(move |request| {
            let gateway = Arc::clone(&gateway);
            async move { Ok::<_, Infallible>(serve_one(gateway, limits, peer, request).await) }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(limits.header);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_too_many_connections_answer_is_well_formed_json() {
        let text = std::str::from_utf8(super::TOO_MANY_CONNECTIONS).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(body["detail"], "Too many connections");
    }
}
