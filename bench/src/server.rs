//! Starting usergraph as its own process and watching it: start-up time,
//! resident memory, SQL statements sent.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::client;

pub struct Server {
    child: Child,
    pub address: String,
    /// From spawning the process to the first answered `/health`.
    pub startup: Duration,
    /// Resident memory right after start-up, in KiB.
    pub idle_rss_kib: u64,
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string())?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| error.to_string())
}

impl Server {
    pub fn start(binary: &Path, env: &[(String, String)]) -> Result<Self, String> {
        let address = format!("127.0.0.1:{}", free_port()?);
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .env("BIND_ADDR", &address)
            // The deep offset-paging scenario holds every pooled connection
            // for seconds on purpose; sqlx's slow-acquire warnings would
            // bury the table.
            .env("RUST_LOG", "warn,sqlx::pool::acquire=error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", binary.display()))?;
        let mut server = Self {
            child,
            address,
            startup: Duration::ZERO,
            idle_rss_kib: 0,
        };
        loop {
            if let Ok((200, _)) = client::send(&server.address, "GET", "/health", "", None) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err("the server did not answer /health within 60 s".to_owned());
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("the server exited: {status}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        server.startup = started.elapsed();
        server.idle_rss_kib = server.rss_kib();
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// `usergraph_sql_statements_total` from `/metrics`.
    pub fn sql_statements(&self) -> Result<u64, String> {
        let (_, body) = client::send(&self.address, "GET", "/metrics", "", None)?;
        body.lines()
            .find_map(|line| line.strip_prefix("usergraph_sql_statements_total "))
            .and_then(|value| value.trim().parse().ok())
            .ok_or_else(|| "no SQL statement counter in /metrics".to_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmRSS:")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|kib| kib.parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Samples a process's resident memory every 50 ms until dropped, keeping
/// the peak.
pub struct PeakRss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl PeakRss {
    pub fn watch(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(rss_kib(pid)));
        let stop = Arc::new(AtomicBool::new(false));
        let (peak_writer, stop_reader) = (Arc::clone(&peak), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop_reader.load(Ordering::Relaxed) {
                peak_writer.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self { peak, stop }
    }

    pub fn peak_kib(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for PeakRss {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
