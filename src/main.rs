//! The `usergraph` binary: parse settings, run the chosen command.

use std::process::ExitCode;

use clap::Parser;
use usergraph::cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; settings then come from the environment.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let telemetry = usergraph::telemetry::init(&cli.config);
    let outcome = run(cli).await;
    telemetry.shutdown().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
