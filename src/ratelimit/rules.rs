//! Which rule applies to a root field for a caller: their tier's
//! `rate_limit` row whose `path` is the field's name, else the default
//! (`DEFAULT_RATE_LIMIT` per `DEFAULT_RATE_PERIOD`).
//!
//! Rows are validated here: a row with a limit or period that is not
//! positive is ignored (with a warning) rather than trusted, so a bad rule
//! can neither crash the limiter nor switch limiting off.

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::Rule;
use crate::config::LimitsConfig;
use crate::entities::rate_limit;
use crate::error::AppResult;

impl Rule {
    /// A rule from a database row's `limit` and `period` (seconds), or `None`
    /// when either is not positive.
    #[must_use]
    pub fn new(limit: i32, period_seconds: i32) -> Option<Self> {
        let limit = u32::try_from(limit).ok().filter(|limit| *limit > 0)?;
        let seconds = u64::try_from(period_seconds).ok().filter(|s| *s > 0)?;
        Some(Self {
            limit,
            period: Duration::from_secs(seconds),
        })
    }

    /// The rule for fields without a tier rule.
    #[must_use]
    pub fn default_for(config: &LimitsConfig) -> Self {
        Self {
            limit: config.default_rate_limit.max(1),
            period: config.default_rate_period.max(Duration::from_secs(1)),
        }
    }

    /// The ceiling every client address has per root field, whoever is
    /// logged in from it (`IP_RATE_LIMIT` per `DEFAULT_RATE_PERIOD`).
    #[must_use]
    pub fn ip_ceiling_for(config: &LimitsConfig) -> Self {
        Self {
            limit: config.ip_rate_limit.max(1),
            ..Self::default_for(config)
        }
    }
}

/// The valid rules of a tier, by path.
pub async fn tier_rules(db: &DatabaseConnection, tier_id: i32) -> AppResult<HashMap<String, Rule>> {
    let rows = rate_limit::Entity::find()
        .filter(rate_limit::Column::TierId.eq(tier_id))
        .all(db)
        .await?;
    let mut rules = HashMap::with_capacity(rows.len());
    for row in rows {
        match Rule::new(row.limit, row.period) {
            Some(rule) => {
                rules.insert(row.path, rule);
            }
            None => tracing::warn!(
                rule = %row.name,
                limit = row.limit,
                period = row.period,
                "ignoring a rate-limit rule whose limit or period is not positive"
            ),
        }
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_must_be_positive() {
        assert_eq!(Rule::new(0, 60), None);
        assert_eq!(Rule::new(5, 0), None);
        assert_eq!(Rule::new(-1, 60), None);
        assert_eq!(Rule::new(5, -60), None);
        assert_eq!(
            Rule::new(5, 60),
            Some(Rule {
                limit: 5,
                period: Duration::from_secs(60)
            })
        );
    }
}
