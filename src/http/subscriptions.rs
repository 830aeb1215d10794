//! GraphQL subscriptions over WebSocket: a `GET /graphql` that asks to
//! upgrade, speaking `graphql-transport-ws` (the protocol of the
//! `graphql-ws` client; the older `subscriptions-transport-ws` is refused).
//!
//! The client proves who it is in `connection_init`'s payload, as
//! `{"authorization": "Bearer <access token>"}` or `{"token": "<access
//! token>"}` (browsers cannot set headers on a WebSocket). A missing, bad
//! or revoked token closes the socket with 4401 before `connection_ack`;
//! so does the session ending later (see `auth::session_watch`): 4401 is
//! what `graphql-ws` clients treat as "authenticate again", and they do not
//! retry it blindly. A subscription the caller may not start (a
//! non-superuser's `auditEvents`) is answered on that subscription alone,
//! as a `FORBIDDEN` GraphQL error followed by `complete`, so the caller's
//! other subscriptions on the socket go on; a whole-socket 4403 would end
//! them all.
//!
//! No cookie is read, only the token in the payload: a page of another
//! site that opens a socket here gains nothing (no cross-site WebSocket
//! hijacking), so the `Origin` of the upgrade is not checked.
//!
//! Only subscriptions run over the socket: queries and mutations are
//! refused (`BAD_USER_INPUT`) and belong on `POST /graphql`, where every
//! write checks its session against the database first. Every document is
//! held to the same limits as over HTTP (`graphql::gate` runs for
//! subscriptions too), and each start counts against the caller's rate
//! limit.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use async_graphql::futures_util::stream::{self, BoxStream};
use async_graphql::http::{WebSocket as GraphqlWebSocket, WebSocketProtocols, WsMessage};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Data, ErrorExtensions, Executor, Pos, Request, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{SEC_WEBSOCKET_PROTOCOL, UPGRADE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tracing::Instrument;

use super::{AppState, MAX_USER_AGENT_CHARS, mask_and_code_errors, plain_error};
use crate::auth::Authentication;
use crate::auth::caller::{Freshness, authenticate_token, bearer};
use crate::auth::session_watch::SessionWatch;
use crate::error::AppError;
use crate::graphql::hardening::RequestId;
use crate::graphql::rate_limiting::Counting;
use crate::graphql::{GraphqlExecutor, gate};
use crate::ratelimit::RequestLimits;
use crate::ratelimit::client_ip::client_ip;
use crate::services::write::Origin;
use crate::state::AppContext;

/// The only subprotocol served.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// Close code: no valid token, or the session has ended.
pub const UNAUTHENTICATED: u16 = 4401;
/// Close code: no `connection_init` in time.
pub const INIT_TIMEOUT: u16 = 4408;

/// What async-graphql closes with on a `subscribe` before
/// `connection_ack`.
const HANDSHAKE_INCOMPLETE: u16 = 1011;

/// How long a new socket may wait before sending `connection_init`.
const INIT_WAIT: Duration = Duration::from_secs(10);

/// Whether this `GET` asks for a WebSocket.
#[must_use]
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"))
}

/// Accept the upgrade when the client speaks `graphql-transport-ws`.
pub async fn upgrade(state: AppState, mut parts: Parts) -> HttpResponse {
    let speaks_protocol = parts
        .headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case(PROTOCOL));
    if !speaks_protocol {
        return plain_error(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "Subscriptions need the graphql-transport-ws WebSocket subprotocol",
        );
    }
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| *address);
    let limits = &state.app.config.limits;
    let client = client_ip(peer, &parts.headers, &limits.trusted_proxies);
    let request_id = RequestId(uuid::Uuid::new_v4().simple().to_string());
    let connection = Connection {
        origin: Origin {
            ip: Some(client.0),
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
            request_id: Some(request_id.0.clone()),
        },
        limits: Arc::new(RequestLimits::new(client, limits.ipv6_prefix)),
        request_id,
    };
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(limits.max_body_bytes)
        .on_upgrade(move |socket| {
            let span = tracing::info_span!("subscriptions", request_id = %connection.request_id.0);
            serve(state, socket, connection).instrument(span)
        })
}

/// What the HTTP upgrade request tells about a connection.
struct Connection {
    origin: Origin,
    limits: Arc<RequestLimits>,
    request_id: RequestId,
}

/// Why the server closes a socket, when it is not async-graphql's own
/// protocol error.
type CloseReason = Arc<Mutex<Option<(u16, String)>>>;

async fn serve(state: AppState, socket: WebSocket, connection: Connection) {
    let (mut sink, incoming) = socket.split();
    let incoming = incoming
        .take_while(|message| std::future::ready(message.is_ok()))
        .filter_map(|message| {
            std::future::ready(match message {
                Ok(message @ (Message::Text(_) | Message::Binary(_))) => Some(message.into_data()),
                _ => None,
            })
        });
    let refusal: CloseReason = Arc::default();
    let watch: Arc<OnceLock<Arc<SessionWatch>>> = Arc::default();
    let init = {
        let (app, refusal, watch) = (state.app.clone(), refusal.clone(), watch.clone());
        move |payload: Value| connection_init(app, connection, payload, refusal, watch)
    };
    let executor = SubscriptionExecutor {
        schema: state.schema.clone(),
        app: state.app.clone(),
    };
    let mut messages = GraphqlWebSocket::new(executor, incoming, WebSocketProtocols::GraphQLWS)
        .on_connection_init(init);
    let check_every = state.app.config.subscription_session_check;
    let mut checks =
        tokio::time::interval_at(tokio::time::Instant::now() + check_every, check_every);
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let init_deadline = tokio::time::sleep(INIT_WAIT);
    tokio::pin!(init_deadline);
    loop {
        let current = watch.get().cloned();
        let outgoing = tokio::select! {
            message = messages.next() => match message {
                Some(WsMessage::Text(text)) => Message::Text(text.into()),
                Some(WsMessage::Close(code, reason)) => {
                    let noted = refusal.lock().unwrap_or_else(PoisonError::into_inner).take();
                    let (code, reason) = match noted {
                        Some(noted) => noted,
                        // A `subscribe` before `connection_ack`: the
                        // protocol's answer is 4401.
                        None if code == HANDSHAKE_INCOMPLETE => {
                            (UNAUTHENTICATED, "Unauthorized".to_owned())
                        }
                        None => (code, reason),
                    };
                    close(code, reason)
                }
                None => break,
            },
            () = ended(current.as_deref()) => close(UNAUTHENTICATED, "Session ended".to_owned()),
            _ = checks.tick(), if current.is_some() => {
                if let Some(current) = &current {
                    current.check(&state.app, Freshness::Cached).await;
                }
                continue;
            }
            () = &mut init_deadline, if current.is_none() => {
                close(INIT_TIMEOUT, "Connection initialisation timeout".to_owned())
            }
        };
        let closing = matches!(outgoing, Message::Close(_));
        if sink.send(outgoing).await.is_err() || closing {
            break;
        }
    }
    if let Some(current) = watch.get() {
        // Ends the subscriptions' streams with the socket.
        current.end();
    }
    tracing::debug!("subscription socket closed");
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Resolves once `watch` has ended; never without one.
async fn ended(watch: Option<&SessionWatch>) {
    match watch {
        Some(watch) => watch.ended().await,
        None => std::future::pending().await,
    }
}

/// Authenticate the socket from `connection_init`'s payload and hand its
/// data (the caller, their origin, their rate-limit state, the session
/// watch) to every subscription on it. A refusal is noted in `refusal`
/// for the close frame.
async fn connection_init(
    app: AppContext,
    connection: Connection,
    payload: Value,
    refusal: CloseReason,
    watch: Arc<OnceLock<Arc<SessionWatch>>>,
) -> async_graphql::Result<Data> {
    let refuse = |message: &str| {
        *refusal.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((UNAUTHENTICATED, message.to_owned()));
        async_graphql::Error::new(message)
    };
    let Some(token) = token_in(&payload) else {
        return Err(refuse(
            "Authentication required: send {\"authorization\": \"Bearer <access token>\"} in connection_init",
        ));
    };
    let authentication = match authenticate_token(&app, token, Freshness::Database).await {
        Ok(authentication) => authentication,
        Err(error) => {
            tracing::warn!(%error, "could not authenticate a subscription socket");
            return Err(refuse("Authentication failed"));
        }
    };
    let Some(caller) = authentication.caller() else {
        return Err(refuse(crate::error::INVALID_TOKEN));
    };
    let session = Arc::new(SessionWatch::new(caller.token.clone(), caller.user.id));
    let _ = watch.set(Arc::clone(&session));
    let mut data = Data::default();
    data.insert(authentication);
    data.insert(session);
    data.insert(connection.origin);
    data.insert(connection.limits);
    data.insert(connection.request_id);
    Ok(data)
}

/// The access token of a `connection_init` payload:
/// `{"authorization": "Bearer <token>"}` (any case of the key) or
/// `{"token": "<token>"}`.
fn token_in(payload: &Value) -> Option<&str> {
    let object = payload.as_object()?;
    let text = |key: &str| {
        object
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .and_then(|(_, value)| value.as_str())
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    match text("authorization") {
        Some(value) => bearer(value),
        None => text("token"),
    }
}

/// The schema as async-graphql's WebSocket transport wants it: only
/// subscriptions, their errors coded and masked as over HTTP.
#[derive(Clone)]
struct SubscriptionExecutor {
    schema: Arc<dyn GraphqlExecutor>,
    app: AppContext,
}

impl Executor for SubscriptionExecutor {
    async fn execute(&self, request: Request) -> Response {
        // Not used by the transport (everything goes through
        // `execute_stream`); answered the same way for completeness.
        let mut responses = self.execute_stream(request, None);
        responses.next().await.unwrap_or_default()
    }

    fn execute_stream(
        &self,
        mut request: Request,
        connection: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        if !is_subscription(&mut request) {
            let refusal = AppError::bad_input(
                "Only subscriptions are served over WebSocket; send queries and mutations with POST /graphql",
            )
            .extend()
            .into_server_error(Pos::default());
            return stream::once(std::future::ready(Response::from_errors(vec![refusal]))).boxed();
        }
        let request_id = data_of::<RequestId>(connection.as_deref())
            .cloned()
            .unwrap_or_else(|| RequestId(String::new()));
        let (schema, app) = (Arc::clone(&self.schema), self.app.clone());
        let max_errors = app.config.limits.max_errors;
        // The same checks as over HTTP (`graphql::gate`), with the client
        // and caller of the connection.
        let responses = async move {
            let counting = connection_counting(&app, connection.as_deref());
            if let Err(refusal) = gate::admit(&counting, &mut request).await {
                return stream::once(std::future::ready(refusal)).boxed();
            }
            let responses = schema.execute_stream(request, connection.clone());
            responses
                .then(move |mut response| {
                    let (app, connection) = (app.clone(), connection.clone());
                    async move {
                        let counting = connection_counting(&app, connection.as_deref());
                        gate::code_validation_limits(&counting, &mut response).await;
                        response
                    }
                })
                .boxed()
        };
        stream::once(responses)
            .flatten()
            .map(move |mut response| {
                mask_and_code_errors(&mut response, &request_id, max_errors);
                response
            })
            .boxed()
    }
}

/// Counting against the client and caller of the connection.
fn connection_counting<'a>(app: &'a AppContext, connection: Option<&'a Data>) -> Counting<'a> {
    let limits = RequestLimits::from_request_data(data_of(connection));
    let caller = data_of::<Authentication>(connection).and_then(Authentication::caller);
    Counting::new(app, limits, caller)
}

/// A value of the connection's data (set in `connection_init`).
fn data_of<T: std::any::Any + Send + Sync>(data: Option<&Data>) -> Option<&T> {
    data?
        .get(&std::any::TypeId::of::<T>())
        .and_then(|value| value.downcast_ref::<T>())
}

/// Whether the operation `request` selects is a subscription. A document
/// that does not parse, or names no operation it has, is left to the
/// schema, which reports it.
fn is_subscription(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return true;
    };
    let kind = match (&document.operations, name.as_deref()) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(operation_name, _)| operation_name.as_str() == name)
            .map(|(_, operation)| operation.node.ty),
        (DocumentOperations::Multiple(operations), None) => {
            let mut all = operations.values();
            match (all.next(), all.next()) {
                (Some(only), None) => Some(only.node.ty),
                _ => None,
            }
        }
    };
    kind.is_none_or(|kind| kind == OperationType::Subscription)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_token_comes_as_a_bearer_authorization_or_a_bare_token() {
        assert_eq!(
            token_in(&json!({ "authorization": "Bearer abc" })),
            Some("abc")
        );
        assert_eq!(
            token_in(&json!({ "Authorization": "bearer abc" })),
            Some("abc")
        );
        assert_eq!(token_in(&json!({ "token": "abc" })), Some("abc"));
        assert_eq!(token_in(&json!({ "authorization": "Basic abc" })), None);
        assert_eq!(token_in(&json!({})), None);
        assert_eq!(token_in(&json!(null)), None);
    }
}
