//! The command line: `serve` (the default) and the operator's administration commands.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use kaizen_actors::company::NewUser;
use kaizen_actors::model::UserRole;
use kaizen_actors::{Registry, directory};

use crate::config::{DbArgs, KeyArgs, ServeConfig};
use crate::password::Hasher;

#[derive(Debug, Parser)]
#[command(
    name = "kaizen",
    version,
    about = "Performance reviews, 360 feedback and objectives"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Options of `serve`, which runs when no command is given.
    #[command(flatten)]
    serve: ServeConfig,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(
        long,
        env = "KAIZEN_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

// Parsed once at start-up: the size of the serve variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, then serve HTTP and WebSocket.
    Serve(ServeConfig),
    /// Create and manage companies.
    #[command(subcommand)]
    Company(CompanyCommand),
    /// Add users to a company.
    #[command(subcommand)]
    User(UserCommand),
    /// Take a consistent backup of the whole installation, also while it serves.
    Backup {
        /// The backup file to write (must not exist); a manifest is written beside it.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Restore a backup into a new, empty database (never over existing data).
    Restore {
        /// The backup file; its manifest is read from beside it.
        file: PathBuf,
        /// Check the restored database against the backup's manifest: integrity, schema
        /// version, the rows of every table per company, and that every encrypted value
        /// decrypts with the keyring.
        #[arg(long)]
        verify: bool,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Inspect and rotate the keys of field encryption.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the installation's staff (operators and support).
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Import a whole-company XML export into an empty company (one transaction; a
    /// refused file writes nothing). Content is encrypted again with the current key.
    Import {
        /// The slug of the company to import into; it must have no people and no cycles.
        #[arg(long)]
        company: String,
        /// The XML file, as `GET /api/v1/admin/export.xml` wrote it.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List the key versions and how many stored values use each (never the keys).
    List {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
    /// Add a new key version to the keyring file and re-encrypt every encrypted value with
    /// it, while servers keep serving.
    Rotate {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        keys: KeyArgs,
    },
}

#[derive(Debug, Subcommand)]
enum CompanyCommand {
    /// Create a company.
    Create {
        /// Short name typed at sign-in: lowercase letters, digits, hyphens.
        slug: String,
        /// Display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List companies.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Allow HR admins of a company to export it as XML.
    EnableXmlExport {
        /// The company's slug.
        slug: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Stop a company's XML export.
    DisableXmlExport {
        /// The company's slug.
        slug: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Issue a one-time master password that lets the company's HR admins wipe all its
    /// content (needed once the company is older than four weeks). Works for an hour;
    /// earlier ones stop working.
    IssueWipePassword {
        /// The company's slug.
        slug: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// Add a staff account. Prints a generated password unless --password-stdin is given.
    Add {
        /// `operator` (everything support does, and XML export, wipe passwords, backups)
        /// or `support` (overviews and audit trails of companies, no content).
        #[arg(long, value_enum)]
        role: StaffRoleArg,
        /// The staff member's email address.
        #[arg(long)]
        email: String,
        /// The staff member's name.
        #[arg(long)]
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// bcrypt cost of the password hash.
        #[arg(long, env = "KAIZEN_BCRYPT_COST", default_value_t = 12,
              value_parser = clap::value_parser!(u32).range(10..=16))]
        bcrypt_cost: u32,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StaffRoleArg {
    Operator,
    Support,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Employee,
    /// Also accepted as `hr_admin`, as the API and CSV files spell it.
    #[value(alias = "hr_admin")]
    HrAdmin,
    /// Runs cycles without seeing written content; also accepted as `hr_assistant`.
    #[value(alias = "hr_assistant")]
    HrAssistant,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user. Prints a generated password unless --password-stdin is given.
    Add {
        /// The company's slug.
        #[arg(long)]
        company: String,
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// The user's display name.
        #[arg(long)]
        name: String,
        /// The stored role; managers follow from reporting lines.
        #[arg(long, value_enum, default_value = "employee")]
        role: RoleArg,
        /// The email of the user's manager in the same company.
        #[arg(long)]
        manager: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// bcrypt cost of the password hash.
        #[arg(long, env = "KAIZEN_BCRYPT_COST", default_value_t = 12,
              value_parser = clap::value_parser!(u32).range(10..=16))]
        bcrypt_cost: u32,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Parses the command line and runs the command; the binary's whole life.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kaizen: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kaizen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colour codes only for a terminal: a log file or a journal gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(config) => crate::server::serve_until_signal(config).await,
        Command::Company(command) => company(command).await,
        Command::Backup { out, db } => {
            // Not `db.open()`: a backup must not migrate the database it copies.
            let handle = match &db.database_url {
                Some(url) => kaizen_actors::Db::connect(url).await?,
                None => {
                    let file = db.data_dir.join(kaizen_actors::db::SQLITE_FILE);
                    if !file.exists() {
                        anyhow::bail!("no database in {}", db.data_dir.display());
                    }
                    kaizen_actors::Db::open_sqlite(&db.data_dir).await?
                }
            };
            let manifest = crate::backup::backup(&handle, db.database_url.as_deref(), &out).await;
            handle.close().await;
            let manifest = manifest?;
            println!(
                "backup written to {} (schema version {}, {} rows in {} tables); manifest {}",
                out.display(),
                manifest.census.schema_version,
                manifest.census.total_rows(),
                manifest.census.tables.len(),
                crate::backup::manifest_path(&out).display()
            );
            Ok(())
        }
        Command::Restore {
            file,
            verify,
            db,
            keys,
        } => {
            match crate::backup::restore(&file, &db, &keys, verify).await? {
                Some(checked) => println!(
                    "restored {} and verified it: schema version {}, {} tables, {} rows of {} \
                     companies match the backup; integrity checks pass; {} encrypted values \
                     decrypt",
                    file.display(),
                    checked.schema_version,
                    checked.tables,
                    checked.rows,
                    checked.companies,
                    checked.decrypted
                ),
                None => println!(
                    "restored {} (not verified; run with --verify to check it)",
                    file.display()
                ),
            }
            Ok(())
        }
        Command::Import {
            company,
            file,
            db,
            keys,
        } => import(&company, &file, &db, &keys).await,
        Command::Staff(StaffCommand::Add {
            role,
            email,
            name,
            password_stdin,
            bcrypt_cost,
            db,
        }) => {
            let db = db.open().await?;
            let (password, show) = read_or_generate_password(password_stdin)?;
            crate::password::check_new_password(&password, 12, &[name.as_str(), email.as_str()])
                .map_err(|problem| anyhow::anyhow!("the password is refused: {problem}"))?;
            let hash = Hasher::new(bcrypt_cost)?.hash(&password).await?;
            let role = match role {
                StaffRoleArg::Operator => kaizen_actors::staff::StaffRole::Operator,
                StaffRoleArg::Support => kaizen_actors::staff::StaffRole::Support,
            };
            let id = kaizen_actors::staff::add(&db, &email, &name, role, &hash).await;
            db.close().await;
            println!("added staff account {} ({})", id?, role.as_str());
            if show {
                println!("password (shown once): {password}");
            }
            Ok(())
        }
        Command::Keys(KeysCommand::List { db, keys }) => crate::keys::list(&keys, &db).await,
        Command::Keys(KeysCommand::Rotate { db, keys }) => crate::keys::rotate(&keys, &db).await,
        Command::User(UserCommand::Add {
            company,
            email,
            name,
            role,
            manager,
            password_stdin,
            bcrypt_cost,
            db,
        }) => {
            let db = db.open().await?;
            let registry = Registry::new(db.clone(), Default::default());
            let handle = registry
                .by_slug(&company)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no company has the slug {company:?}"))?;
            let manager_id = match manager {
                None => None,
                Some(email) => Some(
                    handle
                        .user_id_by_email(email.clone())
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no user {email} in {company}"))?,
                ),
            };
            let (password, show) = read_or_generate_password(password_stdin)?;
            // The same rules as in the app; the company's own minimum may be higher.
            let min_chars = usize::try_from(handle.min_password_length().await?).unwrap_or(8);
            let context = [name.as_str(), email.as_str(), company.as_str()];
            crate::password::check_new_password(&password, min_chars, &context)
                .map_err(|problem| anyhow::anyhow!("the password is refused: {problem}"))?;
            let hash = Hasher::new(bcrypt_cost)?.hash(&password).await?;
            let role = match role {
                RoleArg::Employee => UserRole::Employee,
                RoleArg::HrAdmin => UserRole::HrAdmin,
                RoleArg::HrAssistant => UserRole::HrAssistant,
            };
            let new = NewUser {
                email,
                name,
                role,
                manager_id,
                password_hash: Some(hash),
            };
            let id = handle.add_user(new).await?;
            println!("added user {id}");
            if show {
                println!("password (shown once): {password}");
            }
            registry.shutdown().await;
            db.close().await;
            Ok(())
        }
    }
}

/// The password of a new account: the first line of standard input, or a generated one
/// that is shown once (the flag says whether to show it).
fn read_or_generate_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    } else {
        Ok((crate::token::new_token()[..20].to_owned(), true))
    }
}

/// `kaizen import`: reads the whole file first, so a file that is not well-formed is
/// refused before the database is touched; the company's actor then writes it in one
/// transaction.
async fn import(slug: &str, file: &Path, db_args: &DbArgs, keys: &KeyArgs) -> anyhow::Result<()> {
    let reader = std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .with_context(|| format!("cannot open {}", file.display()))?;
    let root = crate::export::xml::parse(reader)
        .with_context(|| format!("{} is not a Kaizen export", file.display()))?;
    let db = db_args.open().await?;
    let keyring = crate::keys::for_serve(keys, db_args, &db).await?;
    let settings = kaizen_actors::company::Settings {
        keyring,
        ..Default::default()
    };
    let registry = Registry::new(db.clone(), settings);
    let imported = match registry.by_slug(slug).await? {
        Some(handle) => handle.import_xml(root).await.map_err(anyhow::Error::from),
        None => Err(anyhow::anyhow!("no company has the slug {slug:?}")),
    };
    registry.shutdown().await;
    db.close().await;
    let imported = imported.context("the import was refused; nothing was written")?;
    let counts: Vec<String> = imported
        .rows
        .iter()
        .map(|(element, count)| format!("{count} {element}"))
        .collect();
    println!("imported into {slug}: {}", counts.join(", "));
    println!("imported people have no password yet: they set one with \"forgot password\"");
    Ok(())
}

async fn company(command: CompanyCommand) -> anyhow::Result<()> {
    match command {
        CompanyCommand::IssueWipePassword { slug, db } => {
            let db = db.open().await?;
            let registry = Registry::new(db.clone(), Default::default());
            let handle = registry
                .by_slug(&slug)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no company has the slug {slug:?}"))?;
            let password = crate::token::new_token();
            let hash = kaizen_actors::db::sha256_hex(&password);
            let expires_at = handle.issue_wipe_password(hash).await;
            registry.shutdown().await;
            let expires_at = expires_at?;
            let until = time::OffsetDateTime::from_unix_timestamp(expires_at / 1000)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            println!("wipe master password for {slug} (works once, until {until}):");
            println!("{password}");
        }
        CompanyCommand::Create { slug, name, db } => {
            let db = db.open().await?;
            let company = directory::create_company(&db, &slug, &name).await?;
            println!("created company {} ({})", company.slug, company.id);
        }
        CompanyCommand::List { db } => {
            let db = db.open().await?;
            for company in directory::list(&db).await? {
                let xml = if company.xml_export_enabled {
                    "xml export on"
                } else {
                    ""
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    company.slug, company.id, company.name, xml
                );
            }
        }
        CompanyCommand::EnableXmlExport { slug, db } => {
            directory::set_xml_export(&db.open().await?, &slug, true).await?;
            println!("XML export enabled for {slug}");
        }
        CompanyCommand::DisableXmlExport { slug, db } => {
            directory::set_xml_export(&db.open().await?, &slug, false).await?;
            println!("XML export disabled for {slug}");
        }
    }
    Ok(())
}
