//! The table, the targets and the JSON.

use std::path::Path;

use serde::Serialize;

use crate::wrk::WrkResult;

#[derive(Debug, Serialize)]
pub struct Bounds {
    pub bcrypt_cost: u32,
    pub bcrypt_verify_ms: f64,
    /// cores ÷ time per hash: the most logins (or registrations) per second
    /// this machine can do.
    pub hashing_bound_per_second: f64,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub backend: String,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub requests: u64,
    pub sql_per_request: f64,
    pub peak_rss_mb: f64,
}

impl Row {
    pub fn new(
        scenario: &str,
        backend: &str,
        result: &WrkResult,
        statements: u64,
        peak_kib: u64,
    ) -> Self {
        Self {
            scenario: scenario.to_owned(),
            backend: backend.to_owned(),
            requests_per_second: result.requests_per_second(),
            p50_ms: result.p50_us as f64 / 1000.0,
            p99_ms: result.p99_us as f64 / 1000.0,
            errors: result.errors,
            requests: result.requests,
            sql_per_request: if result.requests > 0 {
                statements as f64 / result.requests as f64
            } else {
                0.0
            },
            peak_rss_mb: peak_kib as f64 / 1024.0,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Scaling {
    pub backend: String,
    pub users: u64,
    pub me_per_second: f64,
    pub users_p50_ms: f64,
    pub errors: u64,
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub mode: String,
    pub cores: usize,
    pub bounds: Bounds,
    pub rows: Vec<Row>,
    pub scaling: Vec<Scaling>,
    pub startup_ms: Vec<(String, f64)>,
    pub idle_rss_mb: Vec<(String, f64)>,
    pub notes: Vec<String>,
}

impl Results {
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|row| row.errors > 0)
            || self.scaling.iter().any(|point| point.errors > 0)
    }

    fn find(&self, backend: &str, scenario: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|row| row.backend == backend && row.scenario.starts_with(scenario))
    }

    /// Each target with its measured ratio, per backend.
    pub fn targets(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let bound = self.bounds.hashing_bound_per_second;
        for backend in ["sqlite", "postgres"] {
            let Some(health) = self.find(backend, "GET /health") else {
                continue;
            };
            for scenario in ["login", "register"] {
                if let Some(row) = self.find(backend, scenario) {
                    lines.push(format!(
                        "{backend}: {scenario} {:.1}/s = {:.0}% of the hashing bound {bound:.1}/s (target ≥ 90%)",
                        row.requests_per_second,
                        100.0 * row.requests_per_second / bound
                    ));
                }
            }
            if let Some(me) = self.find(backend, "me") {
                lines.push(format!(
                    "{backend}: me {:.0}/s = {:.0}% of /health {:.0}/s (target ≥ 50%)",
                    me.requests_per_second,
                    100.0 * me.requests_per_second / health.requests_per_second,
                    health.requests_per_second
                ));
            }
            if let (Some(idle), Some(flood)) = (
                self.find(backend, "me (8 conns, idle)"),
                self.find(backend, "me (8 conns) during"),
            ) {
                lines.push(format!(
                    "{backend}: me p99 during a login flood {:.2} ms = {:.1}× idle {:.2} ms (target < 5×), errors {}",
                    flood.p99_ms,
                    flood.p99_ms / idle.p99_ms.max(0.001),
                    idle.p99_ms,
                    flood.errors
                ));
            }
            // Issue 16: pages of users and a look-up against the floor.
            for (prefix, target) in [
                ("users(10) at ", 40.0),
                ("users(100) at ", 10.0),
                ("user(username)", 60.0),
            ] {
                for row in self
                    .rows
                    .iter()
                    .filter(|row| row.backend == backend && row.scenario.starts_with(prefix))
                {
                    lines.push(format!(
                        "{backend}: {} {:.0}/s = {:.1}% of /health (target ≥ {target:.0}%), p99 {:.2} ms = {:.1}× p50 (target < 4×), {:.2} SQL/req",
                        row.scenario,
                        row.requests_per_second,
                        100.0 * row.requests_per_second / health.requests_per_second,
                        row.p99_ms,
                        row.p99_ms / row.p50_ms.max(0.001),
                        row.sql_per_request
                    ));
                }
            }
            if let Some(listing) = self.find(backend, "users(100) over") {
                lines.push(format!(
                    "{backend}: listing 100 users with tiers and post counts: {:.2} SQL statements per request (target ≤ 4)",
                    listing.sql_per_request
                ));
            }
            if let (Some(first), Some(last)) = (
                self.find(backend, "users(100) first pages"),
                self.find(backend, "users(100) last pages of 1000000, cursor")
                    .or_else(|| {
                        self.find(backend, "users(100) last pages")
                            .filter(|row| row.scenario.ends_with("cursor"))
                    }),
            ) {
                lines.push(format!(
                    "{backend}: last pages by cursor p50 {:.2} ms = {:.2}× the first pages {:.2} ms (target ≤ 2×)",
                    last.p50_ms,
                    last.p50_ms / first.p50_ms.max(0.001),
                    first.p50_ms
                ));
            }
            let peak = self
                .rows
                .iter()
                .filter(|row| row.backend == backend)
                .map(|row| row.peak_rss_mb)
                .fold(0.0, f64::max);
            lines.push(format!(
                "{backend}: peak RSS over all scenarios {peak:.1} MB (target ≤ 50 MB)"
            ));
        }
        for (backend, rss) in &self.idle_rss_mb {
            lines.push(format!(
                "{backend}: idle RSS after start-up {rss:.1} MB (target ≤ 20 MB)"
            ));
        }
        for (backend, startup) in &self.startup_ms {
            lines.push(format!("{backend}: start-up to first answered request {startup:.0} ms (target ≤ 1000 ms on SQLite)"));
        }
        lines
    }
}

pub fn print(results: &Results) {
    println!(
        "\nusergraph benchmark ({} mode, {} cores; bcrypt cost {}: {:.1} ms per verification, hashing bound {:.1}/s)\n",
        results.mode,
        results.cores,
        results.bounds.bcrypt_cost,
        results.bounds.bcrypt_verify_ms,
        results.bounds.hashing_bound_per_second
    );
    println!(
        "{:<44} {:<9} {:>10} {:>9} {:>9} {:>7} {:>8} {:>9}",
        "scenario", "backend", "req/s", "p50 ms", "p99 ms", "errors", "SQL/req", "peak MB"
    );
    for row in &results.rows {
        println!(
            "{:<44} {:<9} {:>10.1} {:>9.2} {:>9.2} {:>7} {:>8.2} {:>9.1}",
            row.scenario,
            row.backend,
            row.requests_per_second,
            row.p50_ms,
            row.p99_ms,
            row.errors,
            row.sql_per_request,
            row.peak_rss_mb
        );
    }
    println!("\nScaling (me at 64 connections; first-page listing at 8):");
    println!(
        "{:<9} {:>10} {:>10} {:>16}",
        "backend", "users", "me req/s", "users() p50 ms"
    );
    for point in &results.scaling {
        println!(
            "{:<9} {:>10} {:>10.0} {:>16.2}",
            point.backend, point.users, point.me_per_second, point.users_p50_ms
        );
    }
    println!("\nTargets:");
    for line in results.targets() {
        println!("- {line}");
    }
    for note in &results.notes {
        println!("- {note}");
    }
}

pub fn write_json(results: &Results, path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut value = serde_json::to_value(results).map_err(std::io::Error::other)?;
    value["targets"] = serde_json::json!(results.targets());
    std::fs::write(
        path,
        serde_json::to_string_pretty(&value).map_err(std::io::Error::other)?,
    )
}
