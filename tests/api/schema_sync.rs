//! The committed `schema.graphql` is exactly what `usergraph export-schema`
//! prints. Set `UPDATE_SCHEMA=1` to rewrite it after an intended change.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let generated = usergraph::graphql::export_sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != generated {
        let diff: Vec<String> = diff_lines(&committed, &generated);
        panic!(
            "schema.graphql is out of date; run `UPDATE_SCHEMA=1 cargo test schema_sync` \
             or `cargo run -- export-schema > schema.graphql`.\n{}",
            diff.join("\n")
        );
    }
}

/// A plain line diff: enough to see what drifted.
fn diff_lines(old: &str, new: &str) -> Vec<String> {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let mut out = Vec::new();
    for line in &old {
        if !new.contains(line) {
            out.push(format!("- {line}"));
        }
    }
    for line in &new {
        if !old.contains(line) {
            out.push(format!("+ {line}"));
        }
    }
    out
}
