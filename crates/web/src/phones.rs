//! The phone HTTP endpoint: `GET /<file>` for every file a phone fetches (Cisco phones look on
//! port 6970 first). Files that need the device's own credential (system setting `phone_auth`)
//! are answered 401 with Digest and Basic challenges until it is presented; unknown files are
//! 404 without saying why.

use crate::phone_auth::{Nonces, Verdict};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use provision::{Access, Answer, Provisioner};
use std::sync::Arc;

#[derive(Clone, Debug)]
struct PhoneState {
    provisioner: Arc<Provisioner>,
    nonces: Nonces,
}

/// The phone listener's routes: the phone files, and the self-provisioning service that
/// auto-registered phones show (`resync`: the engine that tells a claimed phone to resync).
pub fn phone_router(
    provisioner: Arc<Provisioner>,
    resync: Option<Arc<provision::resync::Resync>>,
) -> Router {
    let nonces = Nonces::new(
        provisioner
            .service()
            .derived_key("phone http digest nonces"),
    );
    let self_service = Router::new()
        .route(
            "/services/self-provisioning",
            get(crate::self_service::form),
        )
        .route(
            "/services/self-provisioning/claim",
            get(crate::self_service::claim),
        )
        .with_state(crate::self_service::SelfService {
            service: provisioner.service().clone(),
            resync,
        });
    let directory = crate::directory_service::routes(provisioner.service().clone());
    let em = crate::em_service::routes(provisioner.service().clone());
    Router::new()
        .fallback(serve_file)
        .with_state(PhoneState {
            provisioner,
            nonces,
        })
        .merge(self_service)
        .merge(directory)
        .merge(em)
}

fn unauthorized(nonces: &Nonces, stale: bool) -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        "this file needs the phone's credentials\n",
    )
        .into_response();
    for c in nonces.challenges(stale) {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            r.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    r
}

/// A refusal until the requester's wait is over ([`provision::guard`]).
fn throttled(wait: std::time::Duration, what: &str) -> Response {
    let secs = service::throttle::secs(wait);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, secs.to_string())],
        format!("{what} from your address: try again in {secs} s\n"),
    )
        .into_response()
}

/// `http://host[:port]` as the phone reached us (its Host header), for rules pointing back here.
pub(crate) fn base_url(headers: &HeaderMap, fallback: &str) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(h) if !h.is_empty() && !h.contains(['/', ' ', '@']) => format!("http://{h}"),
        _ => fallback.to_string(),
    }
}

/// Answers a phone's request for a file, counting how it went (`/metrics`, the dashboard),
/// under a request id that its render and status write log too, and that the answer carries
/// (`X-Request-Id`).
async fn serve_file(State(st): State<PhoneState>, req: Request) -> Response {
    use provision::metrics::{Outcome, Protocol};
    use tracing::Instrument;
    let id = provision::new_request_id();
    let span = tracing::info_span!("phone_request", request_id = %id, protocol = "http");
    let mut r = provision::REQUEST_ID
        .scope(id.clone(), answer(&st, req).instrument(span))
        .await;
    if let Ok(v) = header::HeaderValue::from_str(&id) {
        r.headers_mut().insert("x-request-id", v);
    }
    let outcome = match r.status() {
        s if s.is_success() || s.is_redirection() => Outcome::Ok,
        StatusCode::UNAUTHORIZED => Outcome::Unauthorized,
        StatusCode::TOO_MANY_REQUESTS => Outcome::Throttled,
        StatusCode::SERVICE_UNAVAILABLE => Outcome::Shed,
        s if s.is_server_error() => Outcome::Error,
        _ => Outcome::NotFound,
    };
    st.provisioner.metrics().request(Protocol::Http, outcome);
    r
}

async fn answer(st: &PhoneState, req: Request) -> Response {
    let p = &st.provisioner;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "phones read files here\n",
        )
            .into_response();
    }
    let path = req.uri().path().to_string();
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = peer.map(|p| p.to_string()).unwrap_or_default();
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let https = req.extensions().get::<crate::listener::Transport>()
        == Some(&crate::listener::Transport::Https);
    let mut base = base_url(req.headers(), "");
    if https {
        if let Some(rest) = base.strip_prefix("http://") {
            base = format!("https://{rest}");
        }
    }
    let fetched = match peer {
        Some(peer) => p.fetch_from(&path, ua.as_deref(), &base, peer).await,
        None => p.fetch(&path, ua.as_deref(), &base).await,
    };
    let file = provision::file_name(&path).unwrap_or_default();
    let guard = p.guard();
    match fetched {
        Ok(Answer::File {
            bytes,
            content_type,
            device,
            device_id,
            access,
            sealing,
        }) => {
            let name = device.as_deref().unwrap_or("-");
            if matches!(sealing, provision::Sealing::Required(_)) && !https {
                tracing::warn!(%path, %ip, device = name, "refused: this phone's profile is encrypted (profile_encryption required); its clear file is served over HTTPS only");
                return (
                    StatusCode::FORBIDDEN,
                    "this phone's profile is encrypted: fetch <mac>.cfg, or this file over HTTPS\n",
                )
                    .into_response();
            }
            match &access {
                Access::Anyone => {}
                Access::Nobody => {
                    tracing::warn!(%path, %ip, device = name, "refused: the file needs the phone's HTTP credential and none is set (PUT /api/v1/phones/{{name}}/http-credential)");
                    return unauthorized(&st.nonces, false);
                }
                Access::Device(cred) => {
                    if let Some(w) = peer.and_then(|a| guard.credential_wait(name, file, a)) {
                        tracing::debug!(%path, %ip, device = name, "refused: waiting after wrong credentials");
                        return throttled(w, "too many wrong credentials");
                    }
                    let target = req
                        .uri()
                        .path_and_query()
                        .map(|pq| pq.as_str())
                        .unwrap_or(&path);
                    let authorization = req
                        .headers()
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok());
                    match st
                        .nonces
                        .check(authorization, req.method().as_str(), target, cred)
                    {
                        Verdict::Pass => {
                            if let Some(a) = peer {
                                guard.credential_passed(name, a);
                            }
                        }
                        Verdict::Missing => {
                            tracing::debug!(%path, %ip, device = name, "challenged for credentials");
                            return unauthorized(&st.nonces, false);
                        }
                        Verdict::Stale => return unauthorized(&st.nonces, true),
                        Verdict::Replayed => {
                            tracing::warn!(%path, %ip, device = name, "refused: a Digest answer accepted before, sent again (a replay)");
                            return unauthorized(&st.nonces, true);
                        }
                        Verdict::Wrong(why) => {
                            tracing::warn!(%path, %ip, device = name, why, "refused: wrong phone credentials");
                            if let Some(a) = peer {
                                guard.credential_failed(name, a);
                            }
                            return unauthorized(&st.nonces, false);
                        }
                    }
                }
            }
            if let Some(id) = device_id {
                if let Some(a) = peer {
                    guard.served(file, a);
                }
                p.seen(
                    id,
                    &ip,
                    ua.as_deref().unwrap_or_default(),
                    provision::file_name(&path).unwrap_or_default(),
                    "http",
                );
            }
            tracing::debug!(%path, device = name, "served");
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                bytes,
            )
                .into_response()
        }
        Ok(Answer::Firmware { path: file, name }) => {
            p.firmware_fetched(&name, &ip);
            tracing::debug!(%path, "firmware served");
            firmware(file, req).await
        }
        Ok(Answer::Throttled(w)) => {
            tracing::debug!(%path, %ip, "refused: waiting after too many unknown devices");
            throttled(w, "too many requests for devices not in the directory")
        }
        Ok(Answer::Busy(w)) => {
            tracing::debug!(%path, %ip, "turned away: files wait too long to be rendered");
            let secs = service::throttle::secs(w);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, secs.to_string())],
                format!("the server is busy: try again in {secs} s\n"),
            )
                .into_response()
        }
        Ok(Answer::NotFound(why)) => {
            tracing::debug!(%path, %why, "not found");
            (StatusCode::NOT_FOUND, "not found\n").into_response()
        }
        Err(e) => {
            tracing::error!(%path, error = %e, "could not answer a phone");
            (StatusCode::INTERNAL_SERVER_ERROR, "error\n").into_response()
        }
    }
}

/// A firmware file, streamed from disk with `Range` (a phone resuming a large download) and
/// `If-Modified-Since` answered, by tower-http's `ServeFile`.
async fn firmware(file: std::path::PathBuf, req: Request) -> Response {
    use tower::ServiceExt;
    match tower_http::services::ServeFile::new(file)
        .oneshot(req)
        .await
    {
        Ok(r) => r.map(axum::body::Body::new),
        Err(e) => {
            tracing::error!(error = %e, "could not read a firmware file");
            (StatusCode::INTERNAL_SERVER_ERROR, "error\n").into_response()
        }
    }
}
