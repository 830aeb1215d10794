//! Sending webhook deliveries: one HTTP client per server, which follows no
//! redirect, gives up after 10 s, and (unless `WEBHOOK_ALLOW_PRIVATE`)
//! resolves names only to public addresses, so a name that starts pointing
//! inside the network after the endpoint was saved is refused at delivery.
//! What to send and what its outcome does live in `services::webhooks` and
//! `services::webhook_deliveries`.

pub mod address;
pub mod signature;

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::WebhookConfig;
use crate::error::{AppError, AppResult};

/// Longest wait for an endpoint to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a response body is kept.
const EXCERPT_CHARS: usize = 200;

/// What came of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered(u16),
    /// 410 Gone: the receiver asks never to be called again.
    Gone,
    /// Anything else: no answer, a refused address, or another status.
    Failed {
        status: Option<u16>,
        excerpt: String,
    },
}

/// The webhook HTTP client.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: WebhookConfig,
}

impl Sender {
    pub fn from_config(config: &WebhookConfig) -> AppResult<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("usergraph-webhooks/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private {
            builder = builder.dns_resolver(std::sync::Arc::new(PublicOnly));
        }
        let client = builder
            .build()
            .map_err(|error| AppError::Config(format!("webhook HTTP client: {error}")))?;
        Ok(Self {
            client,
            config: config.clone(),
        })
    }

    /// POST `body` to `url`, signed with `secret` as message `message_id`.
    pub async fn send(&self, url: &str, secret: &str, message_id: &str, body: &str) -> Outcome {
        let failed = |excerpt: String| Outcome::Failed {
            status: None,
            excerpt,
        };
        let url = match address::parse(url, &self.config) {
            Ok(url) => url,
            Err(reason) => return failed(format!("refused: the URL {reason}")),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let signature = match signature::sign(secret, message_id, timestamp, body) {
            Ok(signature) => signature,
            Err(error) => return failed(error),
        };
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        let mut response = match response {
            Ok(response) => response,
            Err(error) if error.is_timeout() => return failed("no answer within 10 s".to_owned()),
            Err(error) => return failed(error_chain(&error)),
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Outcome::Delivered(status);
        }
        if status == 410 {
            return Outcome::Gone;
        }
        Outcome::Failed {
            status: Some(status),
            excerpt: excerpt(&mut response).await,
        }
    }
}

/// The start of a response body, read no further than needed.
async fn excerpt(response: &mut reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_CHARS * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    String::from_utf8_lossy(&bytes)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

/// An error and its causes on one line (reqwest's own message is vague).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(EXCERPT_CHARS * 2).collect()
}

/// Resolves names to their public addresses only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addresses
                .into_iter()
                .filter(|address| !address::is_forbidden(address.ip()))
                .collect();
            if public.is_empty() {
                return Err(
                    format!("refused: `{}` resolves to no public address", name.as_str()).into(),
                );
            }
            let addresses: Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}
