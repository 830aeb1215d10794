//! Mail: what a message is, the built-in templates that write it, and the
//! transports that deliver it (SMTP, or `.eml` files for the embedded
//! default).
//!
//! Services never send anything themselves: they render a [`Mail`] and put
//! it in the outbox within their write (`services::outbox`), and the outbox
//! worker (`tasks::outbox`) hands it to a [`Mailer`]. So a mail exists
//! exactly when its change committed, and a mail server that is down only
//! delays it.

mod templates;
mod transport;

use serde::{Deserialize, Serialize};

pub use templates::{Template, Templates};
pub use transport::Mailer;

/// One rendered message to one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The link the mail carries, if any: logged beside the file name when
    /// mail goes to files, so a newcomer finds it without a mail client.
    #[serde(default)]
    pub link: Option<String>,
}
