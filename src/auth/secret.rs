//! Where the HS256 token-signing secret comes from (`JWT_ALGORITHM=HS256`;
//! EdDSA and ES256 keys live in the database, see `auth::keys`).
//!
//! A configured `JWT_SECRET` must be at least 32 bytes. On the embedded
//! SQLite default with none configured, a random secret is generated once and
//! kept beside the database file (mode 0600) so tokens survive a restart.
//! PostgreSQL deployments run several instances that must share one secret,
//! so there it has to be configured.

use std::io::Write;
use std::path::PathBuf;

use base64::Engine;
use rand::RngCore;

use crate::config::Config;
use crate::error::{AppError, AppResult};

pub const MIN_SECRET_BYTES: usize = 32;

pub fn resolve_secret(config: &Config) -> AppResult<Vec<u8>> {
    if let Some(secret) = &config.jwt_secret {
        check_length(secret)?;
        return Ok(secret.as_bytes().to_vec());
    }
    if !config.is_sqlite() {
        return Err(AppError::Config(
            "JWT_SECRET must be set (at least 32 bytes) with JWT_ALGORITHM=HS256 when \
             DATABASE_URL is not SQLite; generate one with `openssl rand -base64 48`"
                .to_owned(),
        ));
    }
    match config.sqlite_file() {
        Some(database) => load_or_create(&secret_path(&database)),
        None => Ok(random_secret().into_bytes()),
    }
}

/// A configured `JWT_SECRET` must be at least [`MIN_SECRET_BYTES`] long.
pub fn check_length(secret: &str) -> AppResult<()> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AppError::Config(format!(
            "JWT_SECRET is {} bytes long; it must be at least {MIN_SECRET_BYTES} \
             (generate one with `openssl rand -base64 48`)",
            secret.len()
        )));
    }
    Ok(())
}

fn secret_path(database: &std::path::Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".jwt-secret");
    PathBuf::from(name)
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn load_or_create(path: &std::path::Path) -> AppResult<Vec<u8>> {
    let unreadable =
        |error: std::io::Error| AppError::Config(format!("{}: {error}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(existing) if existing.trim().len() >= MIN_SECRET_BYTES => {
            return Ok(existing.trim().as_bytes().to_vec());
        }
        Ok(_) => {
            return Err(AppError::Config(format!(
                "{} holds a secret shorter than {MIN_SECRET_BYTES} bytes; delete it to generate a new one",
                path.display()
            )));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(unreadable(error)),
    }
    let secret = random_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(unreadable)?;
    file.write_all(secret.as_bytes()).map_err(unreadable)?;
    tracing::info!(
        path = %path.display(),
        "generated a new JWT secret (JWT_SECRET is unset); keep this file private"
    );
    Ok(secret.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        let file = |url| Config::for_database(url).sqlite_file();
        assert_eq!(
            file("sqlite://usergraph.db?mode=rwc"),
            Some(PathBuf::from("usergraph.db"))
        );
        assert_eq!(file("sqlite:/tmp/a.db"), Some(PathBuf::from("/tmp/a.db")));
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("postgres://x"), None);
    }

    #[test]
    fn mail_goes_beside_the_database_unless_told() {
        let dir = |url| Config::for_database(url).mail_dir();
        assert_eq!(dir("sqlite://usergraph.db?mode=rwc"), PathBuf::from("mail"));
        assert_eq!(dir("sqlite:/tmp/x/a.db"), PathBuf::from("/tmp/x/mail"));
        assert_eq!(dir("postgres://x"), PathBuf::from("mail"));
    }

    #[test]
    fn a_generated_secret_is_kept_and_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = dir.path().join("app.db");
        let mut config = Config::for_database(&format!("sqlite://{}?mode=rwc", database.display()));
        let first = resolve_secret(&config).expect("generated");
        let second = resolve_secret(&config).expect("reloaded");
        assert_eq!(first, second);
        assert!(first.len() >= MIN_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(secret_path(&database))
                .expect("secret file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        config.jwt_secret = Some("short".to_owned());
        assert!(matches!(resolve_secret(&config), Err(AppError::Config(_))));
    }

    #[test]
    fn postgres_requires_a_secret() {
        let config = Config::for_database("postgres://localhost/x");
        assert!(matches!(resolve_secret(&config), Err(AppError::Config(_))));
    }
}
