//! A real SMTP server for the tests, on loopback: it speaks enough of RFC
//! 5321 for a client (lettre) to deliver to it, and keeps every message it
//! accepts, parsed, so a test can read the mails usergraph sent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope's recipients (`RCPT TO`).
    pub recipients: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Received {
    /// The token of the first `token=` link in the text.
    pub fn token(&self) -> String {
        token_in(&self.text).unwrap_or_else(|| panic!("no token in: {}", self.text))
    }

    /// The first link with a token in the text.
    pub fn link(&self) -> String {
        let start = self.text.find("http").expect("a link");
        self.text[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }
}

/// The 43-character token after `token=` in `text`.
pub fn token_in(text: &str) -> Option<String> {
    let start = text.find("token=")? + "token=".len();
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    server: JoinHandle<()>,
}

impl SmtpSink {
    /// A sink on a free port.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// A sink on `port` (0: any free one).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, store.clone()));
            }
        });
        Self {
            port,
            received,
            server,
        }
    }

    /// `SMTP_URL` for this sink (plain SMTP, as to a local relay).
    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The messages to `address` so far.
    pub fn to(&self, address: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|message| message.recipients.iter().any(|to| to == address))
            .collect()
    }

    /// Wait (up to ten seconds) until `address` has received `count`
    /// messages; returns them. Fails when it gets fewer, or more.
    pub async fn wait_for(&self, address: &str, count: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let messages = self.to(address);
            assert!(
                messages.len() <= count,
                "{address} got {} messages, expected {count}: {messages:#?}",
                messages.len()
            );
            if messages.len() == count {
                return messages;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{address} got {} of {count} messages in 10 s",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The one message to `address` whose subject contains `subject`,
    /// waiting for it.
    pub async fn one(&self, address: &str, subject: &str) -> Received {
        let started = Instant::now();
        loop {
            let matching: Vec<Received> = self
                .to(address)
                .into_iter()
                .filter(|message| message.subject.contains(subject))
                .collect();
            assert!(matching.len() <= 1, "more than one: {matching:#?}");
            if let Some(message) = matching.into_iter().next() {
                return message;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no mail `{subject}` to {address} in 10 s; got {:#?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}?tls=none")
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn serve(stream: TcpStream, store: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut recipients = Vec::new();
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if command.starts_with("HELO") {
            b"250 sink\r\n"
        } else if command.starts_with("MAIL FROM") {
            recipients.clear();
            b"250 OK\r\n"
        } else if command.starts_with("RCPT TO") {
            let address = line
                .trim_end()
                .split_once(':')
                .map(|(_, rest)| rest.trim().trim_start_matches('<'))
                .and_then(|rest| rest.split('>').next())
                .unwrap_or_default()
                .to_owned();
            recipients.push(address);
            b"250 OK\r\n"
        } else if command == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut data = Vec::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                data.extend_from_slice(unstuffed.as_bytes());
            }
            store
                .lock()
                .unwrap()
                .push(parse(&data, std::mem::take(&mut recipients)));
            b"250 queued\r\n"
        } else if command == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else if command == "RSET" || command == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Parse a message as a mail client would (MIME parts, transfer encodings).
pub fn parse(data: &[u8], recipients: Vec<String>) -> Received {
    let message = mail_parser::MessageParser::default()
        .parse(data)
        .expect("a parsable message");
    Received {
        recipients,
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default(),
        html: message
            .body_html(0)
            .map(|html| html.into_owned())
            .unwrap_or_default(),
    }
}
