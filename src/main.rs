//! The `usergraph` binary: parse settings, run the chosen command.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use usergraph::cli::{Cli, run};
use usergraph::config::LogFormat;

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; settings then come from the environment.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("usergraph=info,tower_http=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.config.log_format {
        LogFormat::Text => logs.init(),
        // One object per line; the fields of the spans a line is in (the
        // request's id above all) are flattened into it.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
