//! A minimal HTTP/1.1 client for the benchmark's own set-up calls (the load
//! itself comes from wrk).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Send a request and return (status, body).
pub fn send(
    address: &str,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(address).map_err(|error| error.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|error| error.to_string())?;
    let authorization = token
        .map(|token| format!("Authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|error| error.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|error| error.to_string())?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// POST a GraphQL document; the parsed JSON answer, or an error when it has
/// `errors`.
pub fn graphql(
    address: &str,
    query: &str,
    token: Option<&str>,
) -> Result<serde_json::Value, String> {
    let body = serde_json::json!({ "query": query }).to_string();
    let (status, text) = send(address, "POST", "/graphql", &body, token)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| format!("HTTP {status}: {text}"))?;
    if value.get("errors").is_some() {
        return Err(format!("HTTP {status}: {text}"));
    }
    Ok(value)
}
