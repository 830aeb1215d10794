//! `usergraph-bench import-rows`: a JSON Lines file of made-up users for
//! timing `usergraph import-users` (see `bench/import.sh`). Every row
//! shares one bcrypt hash: an import never hashes, so this costs it nothing.

use std::io::{BufWriter, Write};
use std::path::Path;

/// Write `count` users to `path`.
pub fn write(path: &Path, count: usize) -> std::io::Result<()> {
    let hash = bcrypt::hash("Bench!pass1", 4).map_err(std::io::Error::other)?;
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for n in 0..count {
        let line = serde_json::json!({
            "name": format!("Imported User {n}"),
            "username": format!("imported{n}"),
            "email": format!("imported{n}@example.com"),
            "password_hash": hash,
            "created_at": "2024-01-01T00:00:00Z",
            "is_superuser": false,
            "email_verified": n % 2 == 0,
        });
        writeln!(out, "{line}")?;
    }
    out.flush()
}
