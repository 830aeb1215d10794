//! The `usergraph` binary: parse settings, run the chosen command.

use std::process::ExitCode;

use clap::Parser;
use mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;
use usergraph::cli::{Cli, run};

/// mimalloc instead of glibc's malloc: under concurrent requests glibc's
/// arenas contend on locks and fragment (measured: ~10% of CPU in malloc and
/// a higher resident size); mimalloc's per-thread heaps avoid both.
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; settings then come from the environment.
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("usergraph=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
