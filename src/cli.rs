//! The command line. With no sub-command, `usergraph` serves.

mod doctor;

use std::io::{BufRead, IsTerminal};

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::error::{AppError, AppResult};
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
        Command::Doctor => {
            if doctor::run(&cli.config).await {
                Ok(())
            } else {
                Err(AppError::Config("doctor: some checks failed".to_owned()))
            }
        }
    }
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
