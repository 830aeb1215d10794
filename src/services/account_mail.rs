//! The mails of the account flows, rendered from the templates with what
//! every one of them shows (the app's name, the user's name) and put in the
//! outbox of a write. The flows themselves live in `email_verification`,
//! `password_reset` and `email_change`.

use std::time::Duration;

use super::outbox::{self, Job};
use super::write::Write;
use crate::entities::user;
use crate::error::AppResult;
use crate::mail::Template;

/// The pages of the links in mails (`ACCOUNT_LINK_BASE` + page).
#[derive(Debug, Clone, Copy)]
pub enum Page {
    Verify,
    Reset,
    Email,
}

impl Page {
    fn path(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::Email => "email",
        }
    }
}

/// Queue `template` to `to` for `user` within `write`, with `values` on top
/// of the common ones, and a link to `page` carrying `token` if given.
pub async fn send(
    write: &mut Write<'_>,
    template: Template,
    to: &str,
    user: &user::Model,
    link: Option<(Page, &str, Duration)>,
    values: &[(&str, &str)],
) -> AppResult<()> {
    let config = &write.app().config;
    let link = link.map(|(page, token, ttl)| {
        (
            format!(
                "{}/{}?token={token}",
                config.account_link_base(),
                page.path()
            ),
            valid_for(ttl),
        )
    });
    let mut all = vec![
        ("app_name", config.mail.app_name.as_str()),
        ("name", user.name.as_str()),
        ("username", user.username.as_str()),
        ("email", to),
    ];
    if let Some((url, valid_for)) = &link {
        all.push(("link", url.as_str()));
        all.push(("valid_for", valid_for.as_str()));
    }
    all.extend_from_slice(values);
    let mail = write.app().templates.render(template, to, &all);
    outbox::enqueue(write, &Job::Mail(mail)).await
}

/// "1 hour", "24 hours", "30 minutes": how long a link works, for people.
#[must_use]
pub fn valid_for(ttl: Duration) -> String {
    let seconds = ttl.as_secs();
    let (count, unit) = if seconds % 86_400 == 0 && seconds >= 86_400 * 2 {
        (seconds / 86_400, "day")
    } else if seconds % 3600 == 0 {
        (seconds / 3600, "hour")
    } else if seconds % 60 == 0 {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_naturally() {
        let text = |seconds| valid_for(Duration::from_secs(seconds));
        assert_eq!(text(3600), "1 hour");
        assert_eq!(text(86_400), "24 hours");
        assert_eq!(text(7 * 86_400), "7 days");
        assert_eq!(text(1800), "30 minutes");
        assert_eq!(text(90), "90 seconds");
    }
}
