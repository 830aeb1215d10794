//! The GraphQL-over-HTTP specification's rules, kept apart from the routes
//! so each rule is one small function: which media type answers (`Accept`),
//! what a well-formed request is (JSON body or GET parameters), which
//! operations GET may run (queries only: GET must be safe, and a link or an
//! `<img>` must never change anything), and which status code a response
//! gets.
//!
//! `application/graphql-response+json` is the spec's own type: its status
//! code tells a request error (400: the document did not parse or validate,
//! the variables did not fit) from a response whose execution started
//! (200). `application/json` is the legacy type: 200 for every well-formed
//! request, as clients written before the spec expect; it is used when a
//! client asks for it by name.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Request};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

/// The media type a GraphQL response is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseFormat {
    GraphqlResponseJson,
    Json,
}

impl ResponseFormat {
    /// Negotiated from `Accept`: the higher quality wins; on a tie the
    /// type named explicitly wins, and when both or neither are named, the
    /// spec's own type does. So no `Accept`, `*/*` and `application/*` get
    /// `application/graphql-response+json`, as the spec asks since its 2025
    /// watershed, and a legacy client naming only `application/json` gets
    /// that. `None`: the client accepts neither (406).
    #[must_use]
    pub fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let ranges = accepted_ranges(headers);
        if ranges.is_empty() {
            return Some(Self::GraphqlResponseJson);
        }
        let (graphql_quality, graphql_named) = quality_of(&ranges, GRAPHQL_RESPONSE_JSON);
        let (json_quality, json_named) = quality_of(&ranges, JSON);
        if graphql_quality <= 0.0 && json_quality <= 0.0 {
            return None;
        }
        let json_wins = json_quality > graphql_quality
            || ((json_quality - graphql_quality).abs() < f32::EPSILON
                && json_named
                && !graphql_named);
        Some(if json_wins {
            Self::Json
        } else {
            Self::GraphqlResponseJson
        })
    }

    #[must_use]
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        })
    }
}

/// `(media range, quality)` of every `Accept` entry, lower-cased.
fn accepted_ranges(headers: &HeaderMap) -> Vec<(String, f32)> {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let range = parts.next()?.trim().to_ascii_lowercase();
            if range.is_empty() {
                return None;
            }
            let quality = parts
                .filter_map(|parameter| parameter.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some((range, quality))
        })
        .collect()
}

/// The quality `media_type` gets (the most specific range decides), and
/// whether it was listed by name.
fn quality_of(ranges: &[(String, f32)], media_type: &str) -> (f32, bool) {
    let kind = media_type.split('/').next().unwrap_or_default();
    let subtype_wildcard = format!("{kind}/*");
    for (candidate, explicit) in [
        (media_type, true),
        (subtype_wildcard.as_str(), false),
        ("*/*", false),
    ] {
        if let Some((_, quality)) = ranges.iter().find(|(range, _)| range == candidate) {
            return (*quality, explicit);
        }
    }
    (0.0, false)
}

/// Whether a `POST` body is declared as JSON (`application/json`, any
/// parameters). Other types are 415: the form-encodable ones are what a
/// cross-site form can send without a CORS preflight.
#[must_use]
pub fn is_json_body(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(JSON))
}

/// Why a request is not a GraphQL request at all (always 400).
#[derive(Debug)]
pub struct MalformedRequest(pub String);

/// A JSON body: one request object, or a batch (an array of them; not in
/// the spec, kept for Apollo's batching link). Each object needs a string
/// `query`; `variables` and `extensions` are objects or null,
/// `operationName` a string or null.
pub fn parse_body(body: &[u8]) -> Result<BatchRequest, MalformedRequest> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| MalformedRequest("The body is not JSON".to_owned()))?;
    let not_graphql = |_| MalformedRequest("The body is not a GraphQL request in JSON".to_owned());
    // Each shape read as itself: through `BatchRequest`'s untagged
    // deserializer the value would be buffered and tried twice.
    match value {
        Value::Array(items) if items.is_empty() => {
            Err(MalformedRequest("The batch is empty".to_owned()))
        }
        Value::Array(items) => {
            items.iter().try_for_each(check_request_object)?;
            let requests = items
                .into_iter()
                .map(serde_json::from_value::<Request>)
                .collect::<Result<Vec<_>, _>>()
                .map_err(not_graphql)?;
            Ok(BatchRequest::Batch(requests))
        }
        other => {
            check_request_object(&other)?;
            serde_json::from_value::<Request>(other)
                .map(BatchRequest::Single)
                .map_err(not_graphql)
        }
    }
}

fn check_request_object(value: &Value) -> Result<(), MalformedRequest> {
    let Value::Object(fields) = value else {
        return Err(MalformedRequest(
            "A GraphQL request is a JSON object".to_owned(),
        ));
    };
    match fields.get("query") {
        Some(Value::String(_)) => {}
        Some(_) => return Err(MalformedRequest("`query` must be a string".to_owned())),
        None => return Err(MalformedRequest("`query` is missing".to_owned())),
    }
    let optional = |name: &str, expected: fn(&Value) -> bool, what: &str| match fields.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(value) if expected(value) => Ok(()),
        Some(_) => Err(MalformedRequest(format!("`{name}` must be {what}"))),
    };
    optional("variables", Value::is_object, "an object")?;
    optional("extensions", Value::is_object, "an object")?;
    optional("operationName", Value::is_string, "a string")
}

/// The parameters of `GET /graphql?query=…&variables=…&operationName=…`;
/// `variables` and `extensions` are JSON text.
#[derive(Debug, Default, serde::Deserialize)]
pub struct GetParameters {
    pub query: Option<String>,
    pub variables: Option<String>,
    #[serde(rename = "operationName")]
    pub operation_name: Option<String>,
    pub extensions: Option<String>,
}

impl GetParameters {
    /// The request these parameters describe.
    pub fn into_request(self) -> Result<Request, MalformedRequest> {
        let query = self
            .query
            .ok_or_else(|| MalformedRequest("`query` is missing".to_owned()))?;
        let mut object = serde_json::Map::new();
        object.insert("query".to_owned(), Value::String(query));
        for (name, text) in [
            ("variables", self.variables),
            ("extensions", self.extensions),
        ] {
            if let Some(text) = text.filter(|text| !text.is_empty()) {
                let value = serde_json::from_str(&text)
                    .map_err(|_| MalformedRequest(format!("`{name}` is not JSON")))?;
                object.insert(name.to_owned(), value);
            }
        }
        if let Some(name) = self.operation_name.filter(|name| !name.is_empty()) {
            object.insert("operationName".to_owned(), Value::String(name));
        }
        let object = Value::Object(object);
        check_request_object(&object)?;
        serde_json::from_value(object)
            .map_err(|_| MalformedRequest("The parameters are not a GraphQL request".to_owned()))
    }
}

/// Whether `request` would run a mutation (or subscription): GET refuses
/// those with 405. A document that does not parse, or names no operation
/// it holds, is not refused here; execution answers it with the usual
/// GraphQL error. The parsed document stays on the request, so execution
/// does not parse it again.
#[must_use]
pub fn selects_mutation(request: &mut Request) -> bool {
    let name = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    let operation = match (&document.operations, name.as_deref()) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(candidate, _)| candidate.as_str() == name)
            .map(|(_, operation)| operation),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    operation.is_some_and(|operation| operation.node.ty != OperationType::Query)
}

/// Whether any request of `batch` might write, decided from its parsed
/// operations, not its text: a document holding any mutation or
/// subscription operation, one that does not parse, or one with no text
/// at all (a persisted query that an application's extension would fill in
/// later). Such requests authenticate against the database rather than the
/// session cache. Each document is parsed here once and kept on its
/// request for execution, so deciding costs no second parse.
#[must_use]
pub fn may_write(batch: &mut BatchRequest) -> bool {
    batch.iter_mut().any(|request| {
        if request.query.trim().is_empty() {
            return true;
        }
        match request.parsed_query() {
            Ok(document) => document
                .operations
                .iter()
                .any(|(_, operation)| operation.node.ty != OperationType::Query),
            Err(_) => true,
        }
    })
}

/// A response whose execution never started: the document did not parse
/// or validate, or the variables did not fit. async-graphql marks these by
/// `data: null` with errors that have no `path` (a field error always has
/// one).
#[must_use]
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// The status code and the JSON body of a response in `format`, at most
/// `max_bytes` long.
///
/// `application/graphql-response+json`: a request error is 400 (500 when
/// the server failed before executing) and has no `data` entry, as the spec
/// requires; otherwise 200. `application/json`: 200, the body as
/// async-graphql writes it. A body over `max_bytes` is replaced by one
/// `BAD_USER_INPUT` error (`extensions.limit = "responseBytes"`) per
/// response: the answer is never larger than the limit allows.
#[must_use]
pub fn status_and_body(
    format: ResponseFormat,
    response: &BatchResponse,
    max_bytes: usize,
) -> (StatusCode, Vec<u8>) {
    if let BatchResponse::Single(single) = response
        && format == ResponseFormat::GraphqlResponseJson
        && is_request_error(single)
    {
        return request_error(single);
    }
    let mut body = CappedBody::new(max_bytes);
    match serde_json::to_writer(&mut body, response) {
        Ok(()) => (StatusCode::OK, body.bytes),
        Err(_) => {
            let batch = match response {
                BatchResponse::Single(_) => None,
                BatchResponse::Batch(responses) => Some(responses.len()),
            };
            (StatusCode::OK, too_large(max_bytes, batch))
        }
    }
}

/// The body that replaces an answer over `max_bytes`: one error, or one
/// per operation of a batch of `batch`.
#[must_use]
pub fn too_large(max_bytes: usize, batch: Option<usize>) -> Vec<u8> {
    let error = serde_json::json!({
        "data": null,
        "errors": [{
            "message": format!("The response is larger than {max_bytes} bytes; ask for less"),
            "extensions": { "code": "BAD_USER_INPUT", "limit": "responseBytes" },
        }],
    });
    let body = match batch {
        None => error,
        Some(operations) => Value::Array(vec![error; operations]),
    };
    body.to_string().into_bytes()
}

/// A request error in the spec's own type: no `data`, 400, or 500 when the
/// server failed before executing.
fn request_error(response: &async_graphql::Response) -> (StatusCode, Vec<u8>) {
    let failed_inside = response.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from("INTERNAL"))
    });
    let mut body = serde_json::to_value(response).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut body {
        fields.remove("data");
    }
    let status = if failed_inside {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    (status, body.to_string().into_bytes())
}

/// A response body that refuses to grow past its limit, so an oversized
/// answer is never built in full a second time as text.
struct CappedBody {
    bytes: Vec<u8>,
    limit: usize,
}

impl CappedBody {
    fn new(limit: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(limit.min(4096)),
            limit,
        }
    }
}

impl std::io::Write for CappedBody {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len().saturating_add(data.len()) > self.limit {
            return Err(std::io::Error::other("response over the size limit"));
        }
        self.bytes.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn accept_negotiation_prefers_the_spec_type_only_when_named() {
        use ResponseFormat::{GraphqlResponseJson, Json};
        assert_eq!(
            ResponseFormat::negotiate(&HeaderMap::new()),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            ResponseFormat::negotiate(&accept("*/*")),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            ResponseFormat::negotiate(&accept("application/json, */*")),
            Some(Json)
        );
        assert_eq!(
            ResponseFormat::negotiate(&accept(
                "application/graphql-response+json, application/json"
            )),
            Some(GraphqlResponseJson)
        );
        assert_eq!(
            ResponseFormat::negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Json)
        );
        assert_eq!(
            ResponseFormat::negotiate(&accept("application/*;q=0.9, */*;q=0.1")),
            Some(GraphqlResponseJson)
        );
        assert_eq!(ResponseFormat::negotiate(&accept("text/html")), None);
        assert_eq!(
            ResponseFormat::negotiate(&accept("application/json;q=0")),
            None
        );
    }

    #[test]
    fn get_selects_mutations_by_operation_name() {
        let request = |query: &str, name: Option<&str>| {
            let mut request = Request::new(query);
            request.operation_name = name.map(str::to_owned);
            request
        };
        assert!(!selects_mutation(&mut request("{ me { id } }", None)));
        assert!(selects_mutation(&mut request("mutation { logout }", None)));
        let both = "query A { me { id } } mutation B { logout }";
        assert!(!selects_mutation(&mut request(both, Some("A"))));
        assert!(selects_mutation(&mut request(both, Some("B"))));
        assert!(!selects_mutation(&mut request("not graphql", None)));
    }

    #[test]
    fn writes_are_decided_from_the_parsed_operations() {
        let single = |query: &str| async_graphql::BatchRequest::Single(Request::new(query));
        assert!(!may_write(&mut single("{ me { id } }")));
        assert!(may_write(&mut single("mutation { logout }")));
        assert!(may_write(&mut single(
            "query A { me { id } } mutation B { logout }"
        )));
        assert!(may_write(&mut single(" ")));
        // Text that merely looks like a write is a read.
        assert!(!may_write(&mut single(
            "query mutation { me { id } } # mutation"
        )));
        assert!(may_write(&mut single("mutation{logout}")));
        let mut batch = async_graphql::BatchRequest::Batch(vec![
            Request::new("{ me { id } }"),
            Request::new("mutation { logout }"),
        ]);
        assert!(may_write(&mut batch));
    }

    #[test]
    fn a_response_over_the_limit_is_replaced_by_a_coded_error() {
        let big = async_graphql::Response::new(async_graphql::Value::String("x".repeat(1000)));
        let batch = BatchResponse::Single(big);
        let (status, body) = status_and_body(ResponseFormat::Json, &batch, 2000);
        assert_eq!(status, StatusCode::OK);
        assert!(body.len() > 1000);
        let (status, body) = status_and_body(ResponseFormat::Json, &batch, 500);
        assert_eq!(status, StatusCode::OK);
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["errors"][0]["extensions"]["limit"], "responseBytes");
        assert_eq!(body["data"], Value::Null);
    }
}
