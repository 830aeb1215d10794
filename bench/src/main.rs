//! usergraph's benchmark: builds nothing itself (`bench/run.sh` builds the
//! release binary), starts the server on SQLite and on PostgreSQL, seeds
//! data with direct inserts, drives each scenario with `wrk` from a separate
//! process, and prints one table (also written as JSON).
//!
//! `usergraph-bench run --quick` is the smoke mode CI runs: tiny data, a
//! couple of seconds per scenario.

mod client;
mod database;
mod import_rows;
mod report;
mod scenarios;
mod seed;
mod server;
mod webhook_sink;
mod wrk;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "usergraph-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every scenario and print the table.
    Run(scenarios::Options),
    /// Time bcrypt verification at a cost on this machine.
    Bcrypt {
        #[arg(long, default_value_t = 12)]
        cost: u32,
    },
    /// Write a JSON Lines file of made-up users for `usergraph import-users`.
    ImportRows {
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long)]
        out: PathBuf,
    },
}

/// Where the usergraph binary is, by default the release build.
fn default_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/usergraph")
}

/// Milliseconds per bcrypt verification at `cost`, the fastest of a few.
fn bcrypt_verify_ms(cost: u32) -> f64 {
    let Ok(hash) = bcrypt::hash("Bench!pass1", cost) else {
        return f64::NAN;
    };
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let _ = bcrypt::verify("Bench!pass1", &hash);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::INFINITY, f64::min)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Bcrypt { cost } => {
            println!(
                "bcrypt cost {cost}: {:.1} ms per verification",
                bcrypt_verify_ms(cost)
            );
            ExitCode::SUCCESS
        }
        Command::ImportRows { count, out } => match import_rows::write(&out, count) {
            Ok(()) => {
                println!("{count} users written to {}", out.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("could not write {}: {error}", out.display());
                ExitCode::FAILURE
            }
        },
        Command::Run(mut options) => {
            if options.binary.is_none() {
                options.binary = Some(default_binary());
            }
            match scenarios::run(&options).await {
                Ok(results) => {
                    let failed = results.failed();
                    report::print(&results);
                    if let Err(error) = report::write_json(&results, &options.out) {
                        eprintln!("could not write {}: {error}", options.out.display());
                        return ExitCode::FAILURE;
                    }
                    println!("\nJSON written to {}", options.out.display());
                    if failed {
                        eprintln!("some requests failed: see the errors column");
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(error) => {
                    eprintln!("benchmark failed: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
