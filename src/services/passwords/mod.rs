//! The rules for a new password, the same wherever one is set: register,
//! changePassword, the reset flow and create-superuser. (Imported users keep
//! their hashes: there is no password to check.)
//!
//! Beside the composition rule (8+ characters with a lower-case letter, an
//! upper-case letter, a digit and a symbol), a new password must not be one
//! of the 10,000 most common ones ([`common`]) nor contain the username or
//! the email's local part; its length in bytes is bounded by what the
//! configured hash takes (72 for bcrypt, 256 for argon2id), refused rather
//! than truncated.

pub mod common;
pub mod strength;

use crate::auth::password::formats::HashPolicy;
use crate::config::Config;
use crate::error::{AppError, AppResult};

pub use self::strength::{PasswordCheck, estimate};

pub const MIN_PASSWORD_CHARS: usize = 8;

/// A username or local part shorter than this is not looked for inside the
/// password: two letters turn up in too many good passwords by chance.
pub const MIN_PERSONAL_CHARS: usize = 3;

pub const COMMON_PASSWORD: &str =
    "password is one of the 10,000 most common passwords; choose another";
pub const CONTAINS_USERNAME: &str = "password must not contain the username";
pub const CONTAINS_EMAIL: &str = "password must not contain the email address's name";

/// Refuse `password` as a new password of the account `username` / `email`
/// (already validated, or as typed) with `BAD_USER_INPUT` saying why.
pub fn check_new_password(
    password: &str,
    username: &str,
    email: &str,
    config: &Config,
) -> AppResult<()> {
    let max_bytes = HashPolicy::from_config(config).max_password_bytes();
    match refusals(password, Some(username), Some(email), max_bytes)
        .into_iter()
        .next()
    {
        Some(reason) => Err(AppError::bad_input(reason)),
        None => Ok(()),
    }
}

/// Every reason to refuse `password`, most basic first; empty when it is
/// acceptable.
#[must_use]
pub fn refusals(
    password: &str,
    username: Option<&str>,
    email: Option<&str>,
    max_bytes: usize,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if password.chars().count() < MIN_PASSWORD_CHARS {
        reasons.push(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > max_bytes {
        reasons.push(format!("password must be at most {max_bytes} bytes"));
    }
    if password.chars().any(char::is_control) {
        reasons.push("password must not contain control characters".to_owned());
    }
    let has = |test: fn(char) -> bool| password.chars().any(test);
    if !(has(char::is_lowercase)
        && has(char::is_uppercase)
        && has(|c| c.is_ascii_digit())
        && has(|c| !c.is_alphanumeric() && !c.is_whitespace()))
    {
        reasons.push(
            "password must contain a lower-case letter, an upper-case letter, a digit and a symbol"
                .to_owned(),
        );
    }
    if common::is_common(password) {
        reasons.push(COMMON_PASSWORD.to_owned());
    }
    let lowered = password.to_lowercase();
    let contains = |part: &str| {
        let part = part.trim().to_lowercase();
        part.chars().count() >= MIN_PERSONAL_CHARS && lowered.contains(&part)
    };
    if username.is_some_and(contains) {
        reasons.push(CONTAINS_USERNAME.to_owned());
    }
    let local_part = email.and_then(|email| email.split('@').next());
    if local_part.is_some_and(contains) {
        reasons.push(CONTAINS_EMAIL.to_owned());
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PasswordHashAlgorithm;

    fn check(password: &str) -> AppResult<()> {
        check_new_password(
            password,
            "alice",
            "alice.w@example.com",
            &Config::defaults(),
        )
    }

    #[test]
    fn the_composition_rule_stays() {
        assert!(check("Str0ng!pass").is_ok());
        assert!(check("short1!A").is_ok());
        assert!(check("Sh0rt!").is_err());
        assert!(check("alllowercase1!").is_err());
        assert!(check("NoDigits!!aa").is_err());
        assert!(check("NoSymbols123a").is_err());
        assert!(check("Str0ng!\u{7}pass").is_err());
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        let error = check("Sasha_007").expect_err("common").to_string();
        assert_eq!(error, COMMON_PASSWORD);
        assert!(check("sASHA_007").is_err());
    }

    #[test]
    fn the_username_and_the_email_name_are_refused_inside() {
        let error = check("My-Alice-99").expect_err("username").to_string();
        assert_eq!(error, CONTAINS_USERNAME);
        let error = check("x1!ALICE.Wy").expect_err("local part").to_string();
        assert_eq!(error, CONTAINS_USERNAME, "the username is checked first");
        let error = check_new_password(
            "Hi!Bob.w.Smith9",
            "zed",
            "bob.w@example.com",
            &Config::defaults(),
        )
        .expect_err("local part")
        .to_string();
        assert_eq!(error, CONTAINS_EMAIL);
        // Two-letter names are not looked for.
        assert!(
            check_new_password("Alpha!Beta7", "al", "al@example.com", &Config::defaults()).is_ok()
        );
    }

    #[test]
    fn the_byte_limit_follows_the_hash_algorithm() {
        let long = format!("Aa1!{}", "x".repeat(69));
        assert_eq!(long.len(), 73);
        let mut config = Config::defaults();
        assert!(check_new_password(&long[..72], "zed", "zed@example.com", &config).is_ok());
        let error = check_new_password(&long, "zed", "zed@example.com", &config)
            .expect_err("bcrypt")
            .to_string();
        assert_eq!(error, "password must be at most 72 bytes");
        config.password_hash = PasswordHashAlgorithm::Argon2id;
        assert!(check_new_password(&long, "zed", "zed@example.com", &config).is_ok());
        let very_long = format!("Aa1!{}", "x".repeat(253));
        assert!(check_new_password(&very_long, "zed", "zed@example.com", &config).is_err());
        assert!(check_new_password(&very_long[..256], "zed", "zed@example.com", &config).is_ok());
    }
}
