//! A strength estimate for live sign-up feedback: our rules say whether a
//! password is acceptable, zxcvbn (a maintained estimator) gives the score
//! and what it noticed. Neither the password nor the estimate is logged.

use super::refusals;

/// zxcvbn's work grows quickly with length and a password this long scores
/// 4 anyway, so only its first characters are estimated.
const ESTIMATED_CHARS: usize = 100;

/// What `passwordStrength` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCheck {
    /// Whether register, changePassword and the reset would take it.
    pub acceptable: bool,
    /// zxcvbn's score: 0 (guessed at once) to 4 (very hard to guess).
    pub score: u8,
    /// Why it would be refused, then what the estimator noticed.
    pub warnings: Vec<String>,
}

/// Estimate `password` for a person who may have typed `username` and
/// `email` already. CPU work of a few milliseconds: call it off the async
/// workers.
#[must_use]
pub fn estimate(
    password: &str,
    username: Option<&str>,
    email: Option<&str>,
    max_bytes: usize,
) -> PasswordCheck {
    let mut warnings = refusals(password, username, email, max_bytes);
    let acceptable = warnings.is_empty();
    let estimated: String = password.chars().take(ESTIMATED_CHARS).collect();
    let inputs: Vec<&str> = [username, email].into_iter().flatten().collect();
    let entropy = zxcvbn::zxcvbn(&estimated, &inputs);
    if let Some(feedback) = entropy.feedback() {
        warnings.extend(feedback.warning().map(|warning| warning.to_string()));
        warnings.extend(feedback.suggestions().iter().map(ToString::to_string));
    }
    PasswordCheck {
        acceptable,
        score: u8::from(entropy.score()),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_score_low_and_say_why() {
        let weak = estimate("Sasha_007", None, None, 72);
        assert!(!weak.acceptable);
        assert!(weak.score <= 1, "{weak:?}");
        assert!(
            weak.warnings[0].contains("common"),
            "our reason comes first: {weak:?}"
        );
        let strong = estimate("correct-Horse-7-battery-staple", None, None, 72);
        assert!(strong.acceptable, "{strong:?}");
        assert_eq!(strong.score, 4);
    }

    #[test]
    fn a_very_long_password_is_estimated_quickly() {
        let long = format!("Aa1!{}", "xy".repeat(126));
        let started = std::time::Instant::now();
        let check = estimate(&long, Some("alice"), None, 256);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(check.acceptable, "{check:?}");
    }
}
