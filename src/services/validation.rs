//! Input rules shared by registration, profile updates and the CLI
//! (passwords: [`check_new_password`], from `services::passwords`).
//!
//! Text is trimmed; control characters and invisible format characters
//! (Unicode category Cf: zero-width spaces and joiners, the bidi controls
//! U+202A–202E and U+2066–2069, soft hyphens) are refused in every text a
//! person reads, so "Boss\u{200B}" cannot pass for "Boss" and a name cannot
//! reverse the text shown after it. Nothing is
//! HTML-escaped: the API speaks JSON, escaping is the renderer's job, and
//! escaping on the way in corrupts names like "O'Brien & Co".

use email_address::EmailAddress;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::{AppError, AppResult};

/// The rules of a new password live with the other password rules.
pub use super::passwords::check_new_password;

pub const NAME_CHARS: (usize, usize) = (2, 30);
pub const USERNAME_CHARS: (usize, usize) = (2, 20);
pub const MAX_EMAIL_CHARS: usize = 254;

/// Trim `value`, refuse control characters, and check its length in
/// characters against `min..=max`.
pub fn clean_text(field: &str, value: &str, (min, max): (usize, usize)) -> AppResult<String> {
    let value = value.trim();
    if value.chars().any(char::is_control) {
        return Err(AppError::bad_input(format!(
            "{field} must not contain control characters"
        )));
    }
    if value.chars().any(is_invisible) {
        return Err(AppError::bad_input(format!(
            "{field} must not contain invisible or text-direction characters"
        )));
    }
    let length = value.chars().count();
    if length < min || length > max {
        return Err(AppError::bad_input(format!(
            "{field} must be between {min} and {max} characters"
        )));
    }
    Ok(value.to_owned())
}

/// A format character (category Cf): it draws nothing, or changes how the
/// text around it is shown.
fn is_invisible(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

pub fn name(value: &str) -> AppResult<String> {
    clean_text("name", value, NAME_CHARS)
}

/// Usernames are lower-case letters and digits. Input is lower-cased first,
/// so "Alice" registers (and logs in) as "alice".
pub fn username(value: &str) -> AppResult<String> {
    let value = clean_text("username", value, USERNAME_CHARS)?.to_lowercase();
    if !value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err(AppError::bad_input(
            "username may contain only letters a-z and digits 0-9",
        ));
    }
    Ok(value)
}

/// A syntactically valid address, stored and compared lower-cased.
pub fn email(value: &str) -> AppResult<String> {
    let value = clean_text("email", value, (3, MAX_EMAIL_CHARS))?.to_lowercase();
    if !EmailAddress::is_valid(&value) || !value.contains('.') {
        return Err(AppError::bad_input("email is not a valid email address"));
    }
    Ok(value)
}

/// An absolute http(s) URL, for profile images and media.
pub fn http_url(field: &str, value: &str) -> AppResult<String> {
    let value = clean_text(field, value, (1, 2048))?;
    let lower = value.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') && !value.contains(' ') => {
            Ok(value)
        }
        _ => Err(AppError::bad_input(format!(
            "{field} must be an http(s) URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_control_characters_refused() {
        assert_eq!(
            name("  O'Brien & Co ").ok().as_deref(),
            Some("O'Brien & Co")
        );
        assert!(name("bad\u{0007}name").is_err());
        assert!(name("x").is_err());
    }

    #[test]
    fn invisible_and_direction_characters_are_refused() {
        for invisible in [
            '\u{200B}', '\u{200D}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{FEFF}', '\u{00AD}',
        ] {
            let error = name(&format!("Boss{invisible}")).expect_err("refused");
            assert!(error.to_string().contains("invisible"), "{invisible:?}");
            assert!(clean_text("title", &format!("a{invisible}b"), (1, 10)).is_err());
        }
        // Letters and marks of any script stay welcome.
        assert!(name("Zoë Ångström").is_ok());
        assert!(name("नमस्ते").is_ok());
    }

    #[test]
    fn usernames_are_lowercase_alphanumerics() {
        assert_eq!(username(" Alice42 ").ok().as_deref(), Some("alice42"));
        assert!(username("al ice").is_err());
        assert!(username("al_ice").is_err());
        assert!(username("é1").is_err());
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            email(" Bob@Example.COM ").ok().as_deref(),
            Some("bob@example.com")
        );
        assert!(email("not-an-email").is_err());
        assert!(email("a@b").is_err());
    }

    #[test]
    fn urls_must_be_http() {
        assert!(http_url("url", "https://example.com/a.png").is_ok());
        assert!(http_url("url", "javascript:alert(1)").is_err());
        assert!(http_url("url", "https://").is_err());
    }
}
