//! A fault-injecting HTTP proxy on loopback, between the SDK clients and moto: it answers some
//! requests with the errors AWS sends under load (PutLogEvents throttling, S3 `SlowDown` and
//! `InternalError`, CloudWatch Logs `ServiceUnavailableException`) or to a role without a
//! permission, holds some back, counts calls, and forwards everything else unchanged.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// How many of each fault are still to be injected; each answer takes one.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// PutLogEvents answered `400 ThrottlingException`.
    pub(crate) throttle_put_log_events: AtomicU32,
    /// GetObject answered `503 SlowDown`.
    pub(crate) slow_down_get_object: AtomicU32,
    /// PutObject / UploadPart answered `500 InternalError`.
    pub(crate) internal_error_put_object: AtomicU32,
    /// CreateLogGroup answered `400 AccessDeniedException`, as to a role without
    /// `logs:CreateLogGroup`.
    pub(crate) deny_create_log_group: AtomicU32,
    /// GetObject answered `500 InternalError`.
    pub(crate) internal_error_get_object: AtomicU32,
    /// PutLogEvents answered `500 ServiceUnavailableException`.
    pub(crate) unavailable_put_log_events: AtomicU32,
    /// PutLogEvents calls let through before any PutLogEvents fault applies.
    pub(crate) pass_put_log_events: AtomicU32,
    /// PutLogEvents calls not let through hang until then (or until it is cleared), and are
    /// then refused (`400 InvalidParameterException`, which no client retries) without ever
    /// reaching the service: a call that outlives every timeout.
    pub(crate) hang_put_log_events_until: Mutex<Option<Instant>>,
    /// PutLogEvents calls that reached the proxy.
    pub(crate) put_log_events_calls: AtomicU32,
    /// S3 requests (method and path) that came without `x-amz-expected-bucket-owner`.
    pub(crate) s3_without_owner: Mutex<Vec<String>>,
    /// S3 requests that reached the proxy.
    pub(crate) s3_calls: AtomicU32,
    /// CreateLogStream calls that reached the proxy.
    pub(crate) create_log_stream_calls: AtomicU32,
    /// Faults injected so far.
    pub(crate) injected: AtomicU32,
}

impl Faults {
    fn take(&self, counter: &AtomicU32) -> bool {
        let took = counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if took {
            self.injected.fetch_add(1, Ordering::SeqCst);
        }
        took
    }
}

type Body = BoxBody<Bytes, hyper::Error>;

fn answer(status: StatusCode, content_type: &str, body: &'static str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// Starts the proxy in front of `upstream` (`http://127.0.0.1:PORT`); returns its endpoint.
pub(crate) async fn start(upstream: String, faults: Arc<Faults>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let endpoint = format!("http://{}", listener.local_addr().expect("proxy address"));
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build_http();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (client, upstream, faults) =
                (client.clone(), upstream.clone(), Arc::clone(&faults));
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (client, upstream, faults) =
                        (client.clone(), upstream.clone(), Arc::clone(&faults));
                    async move { Ok::<_, Infallible>(handle(req, &client, &upstream, &faults).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    endpoint
}

/// Whether a hang is set; if so, waits until it ends or is cleared.
async fn hangs(until: &Mutex<Option<Instant>>) -> bool {
    let hang = || until.lock().ok().and_then(|u| *u);
    if hang().is_none() {
        return false;
    }
    while let Some(end) = hang()
        && Instant::now() < end
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    true
}

async fn handle(
    mut req: Request<Incoming>,
    client: &Client<HttpConnector, Incoming>,
    upstream: &str,
    faults: &Faults,
) -> Response<Body> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if target.is_empty() {
        faults.s3_calls.fetch_add(1, Ordering::SeqCst);
        if !req.headers().contains_key("x-amz-expected-bucket-owner")
            && let Ok(mut without) = faults.s3_without_owner.lock()
        {
            without.push(format!("{} {}", req.method(), req.uri().path()));
        }
    }
    if target.ends_with(".CreateLogStream") {
        faults
            .create_log_stream_calls
            .fetch_add(1, Ordering::SeqCst);
    }
    let put_log_events = target.ends_with(".PutLogEvents");
    if put_log_events {
        faults.put_log_events_calls.fetch_add(1, Ordering::SeqCst);
    }
    let passes = put_log_events
        && faults
            .pass_put_log_events
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if put_log_events && !passes && hangs(&faults.hang_put_log_events_until).await {
        return answer(
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.1",
            r#"{"__type":"InvalidParameterException","message":"the call hung and was dropped"}"#,
        );
    }
    if put_log_events && !passes && faults.take(&faults.throttle_put_log_events) {
        return answer(
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        );
    }
    if put_log_events && !passes && faults.take(&faults.unavailable_put_log_events) {
        return answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/x-amz-json-1.1",
            r#"{"__type":"ServiceUnavailableException","message":"The service cannot complete the request."}"#,
        );
    }
    if target.ends_with(".CreateLogGroup") && faults.take(&faults.deny_create_log_group) {
        return answer(
            StatusCode::BAD_REQUEST,
            "application/x-amz-json-1.1",
            r#"{"__type":"AccessDeniedException","message":"not authorized to perform: logs:CreateLogGroup"}"#,
        );
    }
    let is_object = req.uri().path().matches('/').count() >= 2 && target.is_empty();
    if is_object && req.method() == Method::GET && faults.take(&faults.slow_down_get_object) {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/xml",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
        );
    }
    if is_object && req.method() == Method::GET && faults.take(&faults.internal_error_get_object) {
        return answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/xml",
            "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
        );
    }
    if is_object && req.method() == Method::PUT && faults.take(&faults.internal_error_put_object) {
        return answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/xml",
            "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
        );
    }
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    match format!("{upstream}{path}").parse() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return answer(StatusCode::BAD_GATEWAY, "text/plain", "bad upstream uri"),
    }
    match client.request(req).await {
        Ok(response) => response.map(|b| b.boxed()),
        Err(_) => answer(StatusCode::BAD_GATEWAY, "text/plain", "upstream failed"),
    }
}
