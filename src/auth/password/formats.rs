//! The hash formats usergraph reads and writes, and which of them the
//! settings want for new passwords.
//!
//! A stored hash says how it was made (`$2b$12$…`, `$argon2id$v=19$m=…`), so
//! verification reads the format from the hash itself: hashes imported from
//! another system, or written under older settings, keep working. Whether a
//! hash should be replaced at the next login is a comparison between what
//! the hash says and the [`HashPolicy`] of the current settings.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

use crate::config::{Config, PasswordHashAlgorithm};

/// bcrypt reads at most this many bytes; longer passwords are refused rather
/// than silently truncated.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// The longest password taken with argon2id (ASVS 5.0 6.2.9 asks for at
/// least 64 characters); longer is refused, so a login cannot make the
/// server hash megabytes.
pub const ARGON2_MAX_PASSWORD_BYTES: usize = 256;

/// What a stored hash says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredHash {
    /// `$2a$`, `$2b$` or `$2y$` at `cost`.
    Bcrypt { cost: u32 },
    /// An argon2 PHC string.
    Argon2 {
        variant: Argon2Variant,
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argon2Variant {
    Argon2id,
    Argon2i,
}

impl StoredHash {
    /// The format of `hash`, or `None` when it is in no format usergraph
    /// can verify.
    #[must_use]
    pub fn parse(hash: &str) -> Option<Self> {
        if let Some(rest) = ["$2a$", "$2b$", "$2y$"]
            .iter()
            .find_map(|prefix| hash.strip_prefix(prefix))
        {
            // `$2b$12$` + 22 characters of salt + 31 of hash.
            let (cost_digits, body) = rest.split_once('$')?;
            let cost: u32 = cost_digits.parse().ok()?;
            return ((4..=31).contains(&cost) && cost_digits.len() == 2 && body.len() == 53)
                .then_some(Self::Bcrypt { cost });
        }
        if !(hash.starts_with("$argon2id$") || hash.starts_with("$argon2i$")) {
            return None;
        }
        let parsed = PasswordHash::new(hash).ok()?;
        let variant = match parsed.algorithm.as_str() {
            "argon2id" => Argon2Variant::Argon2id,
            "argon2i" => Argon2Variant::Argon2i,
            _ => return None,
        };
        parsed.salt.as_ref()?;
        parsed.hash.as_ref()?;
        let params = Params::try_from(&parsed).ok()?;
        Some(Self::Argon2 {
            variant,
            memory_kib: params.m_cost(),
            iterations: params.t_cost(),
            parallelism: params.p_cost(),
        })
    }

    /// The longest password this hash can have been made from.
    #[must_use]
    pub fn max_password_bytes(self) -> usize {
        match self {
            Self::Bcrypt { .. } => BCRYPT_MAX_PASSWORD_BYTES,
            Self::Argon2 { .. } => ARGON2_MAX_PASSWORD_BYTES,
        }
    }
}

/// How new passwords are hashed, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashPolicy {
    Bcrypt {
        cost: u32,
    },
    Argon2id {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
}

impl HashPolicy {
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        match config.password_hash {
            PasswordHashAlgorithm::Bcrypt => Self::Bcrypt {
                cost: config.bcrypt_cost,
            },
            PasswordHashAlgorithm::Argon2id => Self::Argon2id {
                memory_kib: config.argon2_memory_kib,
                iterations: config.argon2_iterations,
                parallelism: config.argon2_parallelism,
            },
        }
    }

    /// The longest password a new hash can take.
    #[must_use]
    pub fn max_password_bytes(self) -> usize {
        match self {
            Self::Bcrypt { .. } => BCRYPT_MAX_PASSWORD_BYTES,
            Self::Argon2id { .. } => ARGON2_MAX_PASSWORD_BYTES,
        }
    }

    /// Whether `stored` should be replaced by a hash made under this policy:
    /// it is of another algorithm, or weaker in any parameter. A stronger
    /// hash of the same algorithm is kept (no downgrade at login).
    #[must_use]
    pub fn wants_rehash(self, stored: StoredHash) -> bool {
        match (self, stored) {
            (Self::Bcrypt { cost }, StoredHash::Bcrypt { cost: stored }) => stored < cost,
            (
                Self::Argon2id {
                    memory_kib,
                    iterations,
                    parallelism,
                },
                StoredHash::Argon2 {
                    variant: Argon2Variant::Argon2id,
                    memory_kib: stored_memory,
                    iterations: stored_iterations,
                    parallelism: stored_parallelism,
                },
            ) => {
                stored_memory < memory_kib
                    || stored_iterations < iterations
                    || stored_parallelism < parallelism
            }
            _ => true,
        }
    }

    /// Hash `password` (CPU-heavy: call from a blocking thread).
    pub(super) fn hash_blocking(self, password: &[u8]) -> Result<String, String> {
        match self {
            Self::Bcrypt { cost } => bcrypt::hash(password, cost).map_err(|e| e.to_string()),
            Self::Argon2id {
                memory_kib,
                iterations,
                parallelism,
            } => {
                let params = Params::new(memory_kib, iterations, parallelism, None)
                    .map_err(|e| e.to_string())?;
                Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password(password)
                    .map(|hash| hash.to_string())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Whether `password` matches `hash`, whose format is `format` (CPU-heavy:
/// call from a blocking thread). The parameters are read from the hash.
pub(super) fn verify_blocking(
    format: StoredHash,
    password: &[u8],
    hash: &str,
) -> Result<bool, String> {
    match format {
        StoredHash::Bcrypt { .. } => bcrypt::verify(password, hash).map_err(|e| e.to_string()),
        StoredHash::Argon2 { .. } => match Argon2::default().verify_password(password, hash) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(error) => Err(error.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT_12: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

    fn argon2(variant: Algorithm, memory: u32, iterations: u32) -> String {
        let params = Params::new(memory, iterations, 1, None).unwrap_or_default();
        Argon2::new(variant, Version::V0x13, params)
            .hash_password(b"Str0ng!pass")
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn formats_are_read_from_the_hash() {
        assert_eq!(
            StoredHash::parse(BCRYPT_12),
            Some(StoredHash::Bcrypt { cost: 12 })
        );
        for prefix in ["$2a$", "$2y$"] {
            let other = BCRYPT_12.replacen("$2b$", prefix, 1);
            assert_eq!(
                StoredHash::parse(&other),
                Some(StoredHash::Bcrypt { cost: 12 })
            );
        }
        let id = argon2(Algorithm::Argon2id, 64, 3);
        assert_eq!(
            StoredHash::parse(&id),
            Some(StoredHash::Argon2 {
                variant: Argon2Variant::Argon2id,
                memory_kib: 64,
                iterations: 3,
                parallelism: 1
            })
        );
        let i = argon2(Algorithm::Argon2i, 64, 1);
        assert!(matches!(
            StoredHash::parse(&i),
            Some(StoredHash::Argon2 {
                variant: Argon2Variant::Argon2i,
                ..
            })
        ));
        for unknown in [
            "",
            "plain-text",
            "$2b$12$short",
            "$2x$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$argon2d$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaA",
            "$pbkdf2-sha256$29000$abc$def",
            "$argon2id$v=19$m=64,t=1,p=1$",
        ] {
            assert_eq!(StoredHash::parse(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn weaker_or_other_hashes_are_rehashed_stronger_ones_kept() {
        let bcrypt = HashPolicy::Bcrypt { cost: 12 };
        assert!(!bcrypt.wants_rehash(StoredHash::Bcrypt { cost: 12 }));
        assert!(!bcrypt.wants_rehash(StoredHash::Bcrypt { cost: 13 }));
        assert!(bcrypt.wants_rehash(StoredHash::Bcrypt { cost: 10 }));
        let argon = |memory_kib, iterations| StoredHash::Argon2 {
            variant: Argon2Variant::Argon2id,
            memory_kib,
            iterations,
            parallelism: 1,
        };
        assert!(bcrypt.wants_rehash(argon(19456, 2)));
        let argon2id = HashPolicy::Argon2id {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        };
        assert!(argon2id.wants_rehash(StoredHash::Bcrypt { cost: 31 }));
        assert!(!argon2id.wants_rehash(argon(19456, 2)));
        assert!(!argon2id.wants_rehash(argon(65536, 3)));
        assert!(argon2id.wants_rehash(argon(19456, 1)));
        assert!(argon2id.wants_rehash(argon(8192, 2)));
        assert!(argon2id.wants_rehash(StoredHash::Argon2 {
            variant: Argon2Variant::Argon2i,
            memory_kib: 65536,
            iterations: 4,
            parallelism: 1,
        }));
    }

    #[test]
    fn each_format_verifies() {
        let id = argon2(Algorithm::Argon2id, 64, 1);
        let i = argon2(Algorithm::Argon2i, 64, 1);
        for hash in [id, i] {
            let format = StoredHash::parse(&hash).unwrap_or(StoredHash::Bcrypt { cost: 4 });
            assert_eq!(verify_blocking(format, b"Str0ng!pass", &hash), Ok(true));
            assert_eq!(verify_blocking(format, b"Str0ng!pasS", &hash), Ok(false));
        }
        let made = HashPolicy::Argon2id {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
        .hash_blocking(b"x")
        .unwrap_or_default();
        assert!(made.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{made}");
    }
}
