//! Delivering a rendered [`Mail`]: over SMTP when `SMTP_URL` is set, else
//! as an `.eml` file in `MAIL_DIR` (the embedded default needs no mail
//! server; each file is a complete message any mail client opens).

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::Rng;

use super::Mail;
use crate::config::Config;
use crate::error::{AppError, AppResult};

/// Longest wait for the mail server on one step of a delivery.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where mail goes.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    Smtp {
        client: AsyncSmtpTransport<Tokio1Executor>,
        /// `host:port`, for the log (never the credentials).
        server: String,
    },
    Files(PathBuf),
}

impl Mailer {
    /// The mailer the settings ask for. A bad `MAIL_FROM` or `SMTP_URL`
    /// stops the start-up with the reason.
    pub fn from_config(config: &Config) -> AppResult<Self> {
        let from = config.mail.from.parse::<Mailbox>().map_err(|error| {
            AppError::Config(format!(
                "MAIL_FROM `{}` is not an address: {error}",
                config.mail.from
            ))
        })?;
        let transport = match &config.mail.smtp_url {
            Some(url) => smtp(url)?,
            None => Transport::Files(config.mail_dir()),
        };
        Ok(Self { from, transport })
    }

    /// Where mail goes, for the log: `SMTP host:port` or the folder.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp { server, .. } => format!("SMTP {server}"),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        }
    }

    /// Whether mail can go out now, for `usergraph doctor`: the SMTP server
    /// answers (and, as configured, STARTTLS and the login work), or the
    /// mail folder exists or can be created. Sends and writes nothing.
    pub async fn check(&self) -> Result<String, String> {
        match &self.transport {
            Transport::Smtp { client, server } => match client.test_connection().await {
                Ok(true) => Ok(format!("SMTP {server} answers")),
                Ok(false) => Err(format!("SMTP {server} refused the connection test")),
                Err(error) => Err(format!("SMTP {server}: {error}")),
            },
            Transport::Files(dir) => {
                let existing = dir
                    .ancestors()
                    .find(|ancestor| ancestor.as_os_str().is_empty() || ancestor.exists());
                match existing.map(std::fs::metadata) {
                    Some(Ok(metadata)) if metadata.permissions().readonly() => Err(format!(
                        "SMTP_URL is unset and {} is read-only",
                        dir.display()
                    )),
                    _ => Ok(format!(
                        "SMTP_URL is unset: mail is written as files into {}",
                        dir.display()
                    )),
                }
            }
        }
    }

    /// Deliver `mail`. The error is a reason for the log and the outbox row
    /// (it names no credentials).
    pub async fn send(&self, mail: &Mail) -> Result<(), String> {
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|error| format!("recipient is not an address: {error}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|error| format!("cannot build the message: {error}"))?;
        match &self.transport {
            Transport::Smtp { client, server } => {
                client
                    .send(message)
                    .await
                    .map_err(|error| format!("SMTP {server}: {error}"))?;
                tracing::debug!(%server, "mail sent");
                Ok(())
            }
            Transport::Files(dir) => {
                let path = write_file(dir, &message.formatted()).await?;
                tracing::info!(
                    file = %path.display(),
                    link = mail.link.as_deref().unwrap_or("none"),
                    "mail written (SMTP_URL is unset): {}",
                    mail.subject
                );
                Ok(())
            }
        }
    }
}

/// `smtp://user:pass@host:587` (STARTTLS required), `smtps://…` (TLS from
/// the first byte), `smtp://host:25?tls=none` (plain, for a local relay) or
/// `?tls=opportunistic`.
fn smtp(url: &str) -> AppResult<Transport> {
    let bad = |why: &str| AppError::Config(format!("SMTP_URL is not usable: {why}"));
    let parsed = url::Url::parse(url).map_err(|error| bad(&error.to_string()))?;
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| bad("it names no host"))?
        .to_owned();
    let tls = parsed
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    let tls_parameters =
        || TlsParameters::new(host.clone()).map_err(|error| bad(&error.to_string()));
    let (tls, default_port) = match (parsed.scheme(), tls.as_deref()) {
        ("smtps", None | Some("wrapper")) => (Tls::Wrapper(tls_parameters()?), 465),
        ("smtp", None | Some("required")) => (Tls::Required(tls_parameters()?), 587),
        ("smtp", Some("opportunistic")) => (Tls::Opportunistic(tls_parameters()?), 587),
        ("smtp", Some("none")) => (Tls::None, 25),
        (scheme, tls) => {
            return Err(bad(&format!(
                "scheme `{scheme}` with tls={} (use smtp:// with tls=required|opportunistic|none, or smtps://)",
                tls.unwrap_or("(unset)")
            )));
        }
    };
    let port = parsed.port().unwrap_or(default_port);
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
        .port(port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if !parsed.username().is_empty() {
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        builder = builder.credentials(Credentials::new(
            decode(parsed.username()),
            decode(parsed.password().unwrap_or_default()),
        ));
    }
    Ok(Transport::Smtp {
        client: builder.build(),
        server: format!("{host}:{port}"),
    })
}

/// Write one message into `dir` (created if missing) under a name that
/// sorts by time.
async fn write_file(dir: &std::path::Path, message: &[u8]) -> Result<PathBuf, String> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let name = format!(
        "{}-{:08x}.eml",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        rand::rng().random::<u32>()
    );
    let path = dir.join(name);
    tokio::fs::write(&path, message)
        .await
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(smtp_url: Option<&str>) -> Config {
        let mut config = Config::for_database("sqlite::memory:");
        config.mail.smtp_url = smtp_url.map(str::to_owned);
        config
    }

    // The SMTP pool starts a task of its own: a runtime is needed.
    #[tokio::test]
    async fn smtp_urls_choose_their_tls() {
        for (url, shown) in [
            ("smtp://u:p@mail.example.com", "SMTP mail.example.com:587"),
            ("smtps://mail.example.com", "SMTP mail.example.com:465"),
            ("smtp://localhost?tls=none", "SMTP localhost:25"),
            ("smtp://localhost:2525?tls=none", "SMTP localhost:2525"),
        ] {
            let mailer = Mailer::from_config(&config(Some(url))).expect("usable");
            assert_eq!(mailer.describe(), shown);
        }
        for url in [
            "http://mail.example.com",
            "smtp://?tls=none",
            "smtp://x?tls=maybe",
            "nonsense",
        ] {
            let error = Mailer::from_config(&config(Some(url)))
                .err()
                .expect("refused");
            assert!(
                error.to_string().starts_with("SMTP_URL is not usable"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_bad_sender_is_refused() {
        let mut config = config(None);
        config.mail.from = "not an address".to_owned();
        assert!(Mailer::from_config(&config).is_err());
    }
}
