//! What one HTTP request knows about rate limits: who the client is, the
//! caller's tier rules (loaded at most once per request, shared by every
//! operation of a batch), and which decisions were made, so the HTTP layer
//! can set `Retry-After` and the `RateLimit-*` headers.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use sea_orm::DatabaseConnection;
use tokio::sync::OnceCell;

use super::{ClientIp, Decision, Rule, rules};
use crate::error::AppResult;

pub struct RequestLimits {
    pub client_ip: ClientIp,
    /// What the client is counted by: the address, or its network for IPv6.
    client_key: String,
    tier_rules: OnceCell<HashMap<String, Rule>>,
    report: Mutex<Report>,
}

/// The decisions of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    /// Root fields counted.
    pub counted: u32,
    /// Root fields refused (by their own limit or a login limit).
    pub refused: u32,
    /// The decision the `RateLimit-*` headers describe: the first refusal,
    /// else the first counted field.
    pub shown: Option<Decision>,
}

impl Report {
    /// Every counted field was refused: the request as a whole was.
    #[must_use]
    pub fn whole_request_refused(&self) -> bool {
        self.counted > 0 && self.refused >= self.counted
    }
}

impl RequestLimits {
    /// Limits for a client at `client_ip`, IPv6 counted by its first
    /// `ipv6_prefix` bits.
    #[must_use]
    pub fn new(client_ip: ClientIp, ipv6_prefix: u8) -> Self {
        Self {
            client_key: client_ip.counted_as(ipv6_prefix),
            client_ip,
            tier_rules: OnceCell::new(),
            report: Mutex::new(Report::default()),
        }
    }

    /// This request's state from the request data, or a fresh one counting
    /// the caller as loopback when the schema runs outside our HTTP handler
    /// (an application embedding it).
    #[must_use]
    pub fn from_request_data(data: Option<&Arc<Self>>) -> Arc<Self> {
        data.cloned()
            .unwrap_or_else(|| Arc::new(Self::new(ClientIp(IpAddr::V4(Ipv4Addr::LOCALHOST)), 64)))
    }

    /// The key part that names this client in counters.
    #[must_use]
    pub fn client_key(&self) -> &str {
        &self.client_key
    }

    /// The rules of `tier_id`, loaded on first use.
    pub async fn tier_rules(
        &self,
        db: &DatabaseConnection,
        tier_id: i32,
    ) -> AppResult<&HashMap<String, Rule>> {
        self.tier_rules
            .get_or_try_init(|| rules::tier_rules(db, tier_id))
            .await
    }

    /// A root field was counted.
    pub fn record_field(&self, decision: Decision) {
        self.update(|report| {
            report.counted += 1;
            Self::note(report, decision);
        });
    }

    /// An already counted root field was refused by a further limit.
    pub fn record_refusal(&self, decision: Decision) {
        self.update(|report| Self::note(report, decision));
    }

    #[must_use]
    pub fn report(&self) -> Report {
        *self
            .report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn note(report: &mut Report, decision: Decision) {
        let refusal_shown = report.shown.is_some_and(|shown| !shown.allowed);
        if !decision.allowed {
            report.refused += 1;
            if !refusal_shown {
                report.shown = Some(decision);
            }
        } else if report.shown.is_none() {
            report.shown = Some(decision);
        }
    }

    fn update(&self, change: impl FnOnce(&mut Report)) {
        let mut report = self
            .report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut report);
    }
}
