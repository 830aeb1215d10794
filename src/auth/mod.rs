//! Who is calling, and how they prove it: password hashing, signed tokens
//! and the keys that sign them,
//! the refresh cookie, the current caller and the guards that check it, and
//! the watch that ends a WebSocket connection with its session.

pub mod caller;
pub mod capability;
pub mod cookie;
pub mod guards;
pub mod keys;
pub mod password;
pub mod secret;
pub mod session_cache;
pub mod session_watch;
pub mod tokens;

pub use caller::{Authentication, Caller};
pub use capability::Capabilities;
pub use guards::{LoggedIn, OwnerOrSuperuser, RequireTier, Superuser};
pub use password::PasswordHasher;
pub use session_cache::SessionCache;
pub use tokens::{Claims, TokenKeys, TokenKind};
