//! The HTTP side of `authgate serve`: axum in front of the gateway, one log line per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;

use crate::gateway::{Gateway, IncomingRequest, MAX_PAYLOAD_BYTES};

async fn serve_one(gateway: Arc<Gateway>, peer: SocketAddr, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let outgoing = match axum::body::to_bytes(body, MAX_PAYLOAD_BYTES + 1).await {
        Ok(bytes) => {
            gateway
                .handle(IncomingRequest {
                    method: &method,
                    path: &path,
                    query: parts.uri.query(),
                    headers: &parts.headers,
                    body: &bytes,
                    source_ip: peer.ip().to_string(),
                })
                .await
        }
        Err(_) => gateway.payload_too_large(),
    };
    // Method, path, status and time only: never headers, tokens or bodies.
    tracing::info!(
        target: "authgate::access",
        "{method} {path} {} {:.1}ms",
        outgoing.status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    let mut response = Response::new(Body::from(outgoing.body));
    *response.status_mut() = outgoing.status;
    *response.headers_mut() = outgoing.headers;
    response
}

/// Serves `gateway` on `listener` until `shutdown` completes.
pub async fn run(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, request: Request| {
            serve_one(Arc::clone(&gateway), peer, request)
        },
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
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
