//! Running wrk with `bench/wrk/graphql.lua` and reading its result line.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct WrkResult {
    pub requests: u64,
    pub seconds: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub errors: u64,
}

impl WrkResult {
    pub fn requests_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// What one wrk run sends.
#[derive(Debug, Clone)]
pub struct Load {
    pub scenario: &'static str,
    pub connections: u32,
    pub duration: Duration,
    pub env: Vec<(String, String)>,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("wrk/graphql.lua")
}

pub async fn run(address: &str, load: &Load) -> Result<WrkResult, String> {
    let threads = load.connections.clamp(1, 2);
    let mut command = tokio::process::Command::new("wrk");
    command
        .arg(format!("-t{threads}"))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("30s")
        .arg("-s")
        .arg(script())
        .arg(format!("http://{address}"))
        .env("SCENARIO", load.scenario)
        .kill_on_drop(true);
    for (name, value) in &load.env {
        command.env(name, value);
    }
    let output = command.output().await.map_err(|error| {
        format!("cannot run wrk (is it installed? bench/run.sh installs it): {error}")
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        eprintln!("wrk {}: {}", load.scenario, stderr.trim());
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .ok_or_else(|| format!("wrk printed no result: {stdout}"))?;
    serde_json::from_str(line).map_err(|error| format!("wrk result `{line}`: {error}"))
}
