//! The mail templates: a text and an HTML file per mail, built into the
//! binary from `templates/mail/` and overridable file by file from
//! `MAIL_TEMPLATES_DIR`.
//!
//! A template names its values as `{{name}}`. In the HTML file every value
//! is HTML-escaped, since names and addresses are typed by users; the text
//! file's first line is the subject (`Subject: …`), where line breaks in a
//! value are removed so nobody can write a header of their own.

use std::collections::HashMap;
use std::path::Path;

use super::Mail;
use crate::error::{AppError, AppResult};

/// Every mail usergraph sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    VerifyEmail,
    ResetPassword,
    PasswordChanged,
    ConfirmEmailChange,
    EmailChangeRequested,
}

impl Template {
    const ALL: [Self; 5] = [
        Self::VerifyEmail,
        Self::ResetPassword,
        Self::PasswordChanged,
        Self::ConfirmEmailChange,
        Self::EmailChangeRequested,
    ];

    /// The file name of the template, without `.txt` or `.html`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::PasswordChanged => "password_changed",
            Self::ConfirmEmailChange => "confirm_email_change",
            Self::EmailChangeRequested => "email_change_requested",
        }
    }

    fn built_in(self) -> (&'static str, &'static str) {
        macro_rules! files {
            ($name:literal) => {
                (
                    include_str!(concat!("../../templates/mail/", $name, ".txt")),
                    include_str!(concat!("../../templates/mail/", $name, ".html")),
                )
            };
        }
        match self {
            Self::VerifyEmail => files!("verify_email"),
            Self::ResetPassword => files!("reset_password"),
            Self::PasswordChanged => files!("password_changed"),
            Self::ConfirmEmailChange => files!("confirm_email_change"),
            Self::EmailChangeRequested => files!("email_change_requested"),
        }
    }
}

/// The text and HTML of every template, read once at start-up.
#[derive(Debug, Clone)]
pub struct Templates {
    files: HashMap<Template, (String, String)>,
}

impl Templates {
    /// The built-in templates alone.
    #[must_use]
    pub fn built_in() -> Self {
        let files = Template::ALL
            .into_iter()
            .map(|template| {
                let (text, html) = template.built_in();
                (template, (text.to_owned(), html.to_owned()))
            })
            .collect();
        Self { files }
    }

    /// The built-in templates, with each file found in `overrides` used
    /// instead of its built-in twin. A file that exists but cannot be read
    /// (or lacks its subject line) stops the start-up.
    pub fn load(overrides: Option<&Path>) -> AppResult<Self> {
        let mut files = HashMap::new();
        for template in Template::ALL {
            let (text, html) = template.built_in();
            let text =
                read_override(overrides, template, "txt")?.unwrap_or_else(|| text.to_owned());
            let html =
                read_override(overrides, template, "html")?.unwrap_or_else(|| html.to_owned());
            if subject_and_body(&text).is_none() {
                return Err(AppError::Config(format!(
                    "mail template {}.txt must start with a `Subject: …` line",
                    template.name()
                )));
            }
            files.insert(template, (text, html));
        }
        Ok(Self { files })
    }

    /// `template` filled in with `values`, addressed to `to`.
    #[must_use]
    pub fn render(&self, template: Template, to: &str, values: &[(&str, &str)]) -> Mail {
        let (text, html) = self.files.get(&template).map_or_else(
            || template.built_in(),
            |(text, html)| (text.as_str(), html.as_str()),
        );
        let (subject, body) = subject_and_body(text).unwrap_or(("", text));
        Mail {
            to: to.to_owned(),
            subject: fill(subject, values, |value| value.replace(['\r', '\n'], " ")),
            text: fill(body, values, str::to_owned),
            html: fill(html, values, escape_html),
            link: values
                .iter()
                .find(|(key, _)| *key == "link")
                .map(|(_, link)| (*link).to_owned()),
        }
    }
}

fn read_override(
    dir: Option<&Path>,
    template: Template,
    extension: &str,
) -> AppResult<Option<String>> {
    let Some(dir) = dir else {
        return Ok(None);
    };
    let path = dir.join(format!("{}.{extension}", template.name()));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(AppError::Config(format!(
            "cannot read mail template {}: {error}",
            path.display()
        ))),
    }
}

/// The subject line's text and the body after it.
fn subject_and_body(text: &str) -> Option<(&str, &str)> {
    let (first, rest) = text.split_once('\n')?;
    let subject = first.strip_prefix("Subject:")?.trim();
    Some((subject, rest.trim_start_matches(['\r', '\n'])))
}

/// Replace each `{{name}}` by its value, passed through `encode`; an
/// unknown name stays as written, so a typo in an override shows.
fn fill(template: &str, values: &[(&str, &str)], encode: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match values.iter().find(|(key, _)| *key == name) {
            Some((_, value)) => out.push_str(&encode(value)),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_html_and_kept_in_text() {
        let templates = Templates::load(None).expect("built-in templates load");
        let mail = templates.render(
            Template::VerifyEmail,
            "ann@example.com",
            &[
                ("name", "<script>x</script> & \"Ann\""),
                ("app_name", "Demo"),
                ("email", "ann@example.com"),
                ("link", "https://a.example/account/verify?token=abc"),
                ("valid_for", "24 hours"),
            ],
        );
        assert_eq!(mail.subject, "Confirm your email address for Demo");
        assert!(mail.text.contains("Hello <script>x</script> & \"Ann\","));
        assert!(
            mail.html
                .contains("Hello &lt;script&gt;x&lt;/script&gt; &amp; &quot;Ann&quot;,")
        );
        assert!(!mail.html.contains("<script>"));
        assert!(
            mail.text
                .contains("https://a.example/account/verify?token=abc")
        );
    }

    #[test]
    fn a_value_cannot_add_a_header_line_through_the_subject() {
        let filled = fill("Hi {{name}}", &[("name", "x\r\nBcc: a@b")], |value| {
            value.replace(['\r', '\n'], " ")
        });
        assert_eq!(filled, "Hi x  Bcc: a@b");
    }

    #[test]
    fn overrides_replace_built_in_files_one_by_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("reset_password.txt"),
            "Subject: Reset for {{app_name}}\n\nGo to {{link}} {{unknown}}",
        )
        .expect("written");
        let templates = Templates::load(Some(dir.path())).expect("loads");
        let mail = templates.render(
            Template::ResetPassword,
            "a@b.c",
            &[("app_name", "X"), ("link", "L")],
        );
        assert_eq!(mail.subject, "Reset for X");
        assert_eq!(mail.text, "Go to L {{unknown}}");
        assert!(
            mail.html.contains("Choose a new password"),
            "html stays built in"
        );

        std::fs::write(dir.path().join("verify_email.txt"), "no subject").expect("written");
        assert!(Templates::load(Some(dir.path())).is_err());
    }
}
