//! The command line. With no sub-command, `usergraph` serves.

mod doctor;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::services::import::{self, ImportOptions, Progress};
use crate::services::keys;
use crate::services::users::{self, NewUser};
use crate::services::write::Actor;

#[derive(Debug, Parser)]
#[command(
    name = "usergraph",
    version,
    about = "User management with a GraphQL API"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run migrations, then serve HTTP (the default).
    Serve,
    /// Run pending migrations and exit.
    Migrate,
    /// Create an administrator account.
    CreateSuperuser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Read the password from the first line of standard input instead
        /// of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print the GraphQL schema (SDL).
    ExportSchema,
    /// Import users from a JSON Lines file, or straight from a
    /// FastAPI-boilerplate database. All or nothing unless `--skip-invalid`;
    /// users already present (by username) are left alone.
    ImportUsers {
        /// JSON Lines: one user per line with `name`, `username`, `email`,
        /// `password_hash` (bcrypt or argon2), and optionally `created_at`,
        /// `is_superuser`, `tier`, `email_verified`.
        #[arg(
            required_unless_present = "from_fastapi_boilerplate",
            conflicts_with = "from_fastapi_boilerplate"
        )]
        file: Option<PathBuf>,
        /// Read a FastAPI-boilerplate database (`postgres://…`): its users,
        /// tiers, rate limits and posts.
        #[arg(long, value_name = "URL")]
        from_fastapi_boilerplate: Option<String>,
        /// Check every row and report, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Import the valid rows even when some are refused.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Check the settings, the database and its migrations, Redis and the
    /// signing keys, one line each; exit 1 when one fails. Changes nothing.
    Doctor,
    /// The keys that sign tokens (EdDSA and ES256).
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key active; tokens signed by the previous one keep
    /// working until they expire. Running servers use it within seconds.
    Rotate,
    /// List the stored keys: kid, algorithm, created, state.
    List,
}

pub async fn run(cli: Cli) -> AppResult<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::serve(cli.config).await,
        Command::Migrate => {
            let db = crate::db::connect(&cli.config).await?;
            crate::db::migrate(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateSuperuser {
            username,
            email,
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let state = crate::prepare(cli.config).await?;
            let user = users::register(
                &state.app,
                &Actor::system(),
                NewUser {
                    name,
                    username,
                    email,
                    password,
                },
                true,
            )
            .await?;
            println!("created superuser {} ({})", user.username, user.uuid);
            Ok(())
        }
        Command::ExportSchema => {
            print!("{}", crate::graphql::export_sdl());
            Ok(())
        }
        Command::Keys { action } => run_keys(cli.config, action).await,
        Command::ImportUsers {
            file,
            from_fastapi_boilerplate,
            dry_run,
            skip_invalid,
        } => {
            let options = ImportOptions {
                dry_run,
                skip_invalid,
            };
            let source = match (file, from_fastapi_boilerplate) {
                (_, Some(url)) => ImportSource::FastApi(url),
                (Some(file), None) => ImportSource::File(file),
                (None, None) => {
                    return Err(AppError::Config(
                        "give a FILE or --from-fastapi-boilerplate URL".to_owned(),
                    ));
                }
            };
            run_import(cli.config, source, options).await
        }
        Command::Doctor => {
            if doctor::run(&cli.config).await {
                Ok(())
            } else {
                Err(AppError::Config("doctor: some checks failed".to_owned()))
            }
        }
    }
}

enum ImportSource {
    File(PathBuf),
    FastApi(String),
}

/// Run an import with a progress line on standard error (at most twice a
/// second) and the report on standard output.
async fn run_import(config: Config, source: ImportSource, options: ImportOptions) -> AppResult<()> {
    let state = crate::prepare(config).await?;
    let started = Instant::now();
    let mut last_shown = started;
    let mut progress = |step: Progress| {
        let now = Instant::now();
        if now.duration_since(last_shown) >= Duration::from_millis(500) || step.done == step.total {
            last_shown = now;
            let rate = per_second(step.done, now.duration_since(started));
            eprintln!(
                "{} {}/{} users ({rate} rows/s)",
                step.stage, step.done, step.total
            );
        }
    };
    let actor = Actor::system();
    let report = match &source {
        ImportSource::File(path) => {
            import::jsonl::import(&state.app, &actor, path, options, &mut progress).await?
        }
        ImportSource::FastApi(url) => {
            import::fastapi::import(&state.app, &actor, url, options, &mut progress).await?
        }
    };
    for refusal in &report.refused {
        println!("{}: {}", refusal.place, refusal.reason);
    }
    let elapsed = started.elapsed();
    let extras = if matches!(source, ImportSource::FastApi(_)) {
        format!(
            ", {} tiers, {} rate-limit rules, {} posts",
            report.tiers, report.rate_limits, report.posts
        )
    } else {
        String::new()
    };
    let counts = format!(
        "{} users{extras} ({} already present, {} refused, {} rows read)",
        report.imported,
        report.already_present,
        report.refused.len(),
        report.read
    );
    if report.written {
        println!(
            "imported {counts} in {:.1}s ({} users/s)",
            elapsed.as_secs_f64(),
            per_second(report.imported, elapsed)
        );
    } else if !report.refused.is_empty() && !options.skip_invalid {
        return Err(AppError::bad_input(format!(
            "{} rows refused: nothing was imported (fix them, or pass --skip-invalid to import the others)",
            report.refused.len()
        )));
    } else if report.nothing_to_do() {
        println!("nothing to import: {counts}");
    } else {
        println!("dry run, nothing written: would import {counts}");
    }
    Ok(())
}

fn per_second(rows: usize, elapsed: Duration) -> u64 {
    let seconds = elapsed.as_secs_f64().max(0.001);
    // Rows counts are far below f64's exact range.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rate = (rows as f64 / seconds) as u64;
    rate
}

async fn run_keys(config: Config, action: KeysCommand) -> AppResult<()> {
    let state = crate::prepare(config).await?;
    match action {
        KeysCommand::Rotate => {
            let created = keys::rotate(&state.app, &Actor::system()).await?;
            println!(
                "active signing key: {} ({})",
                created.kid, created.algorithm
            );
        }
        KeysCommand::List => {
            println!(
                "{:<43}  {:<9}  {:<25}  state",
                "kid", "algorithm", "created"
            );
            for key in keys::list(&state.app).await? {
                println!(
                    "{:<43}  {:<9}  {:<25}  {}",
                    key.kid,
                    key.algorithm,
                    key.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    key.state
                );
            }
        }
    }
    Ok(())
}

fn read_password(from_stdin: bool) -> AppResult<String> {
    let io_error =
        |error: std::io::Error| AppError::Config(format!("cannot read password: {error}"));
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(io_error)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let password = rpassword::prompt_password("Password: ").map_err(io_error)?;
    let again = rpassword::prompt_password("Password (again): ").map_err(io_error)?;
    if password != again {
        return Err(AppError::Config("the passwords do not match".to_owned()));
    }
    Ok(password)
}
