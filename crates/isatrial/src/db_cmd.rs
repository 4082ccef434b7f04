//! The database commands: `serve`, `import`, `export`, `user`, and the
//! `--db` half of `report`. Each opens the store (migrating it) on a tokio
//! runtime of its own; the rest of the binary stays synchronous.

use std::io::BufRead;

use store::{Actor, Instant, Role, Store, StoreError};

use crate::Failure;
use crate::cli::{ExportArgs, ImportArgs, ServeArgs, UserCommand};

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Database(m) => Failure::Unexpected(anyhow::anyhow!("database: {m}")),
            other => Failure::Refused(other.to_string()),
        }
    }
}

/// Runs a future on a fresh multi-threaded runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)?
        .block_on(f)
}

/// Parses an `--as-of` instant, which must have passed: the data as of an
/// instant to come would change until then.
pub fn instant(s: Option<&str>) -> Result<Option<Instant>, Failure> {
    s.map(|s| {
        let at = s
            .parse::<Instant>()
            .map_err(|e| Failure::Refused(format!("--as-of: {e}")))?;
        if at > Instant::now() {
            return Err(Failure::Refused(format!(
                "--as-of {s}: is in the future; the data as of then are not known yet"
            )));
        }
        Ok(at)
    })
    .transpose()
}

/// `isatrial serve`.
pub fn serve(args: &ServeArgs) -> Result<(), Failure> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    block_on(async {
        let store = Store::open(&args.db.db).await?;
        tracing::info!(db = %store::redact(&args.db.db), "database open and migrated");
        let state = web::AppState {
            store: store.clone(),
            secure_cookies: args.secure_cookies,
            behind_proxy: args.behind_proxy,
        };
        web::serve(state, args.listen, |addr| {
            // The first line on stdout says where, for scripts and tests.
            say!("listening on http://{addr}");
        })
        .await?;
        store.close().await;
        Ok(())
    })
}

/// A database URL without its password, for logs.
/// `isatrial import`.
pub fn import(args: &ImportArgs) -> Result<(), Failure> {
    block_on(async {
        let store = Store::open(&args.db.db).await?;
        let summary = store
            .import_bundle(&Actor::system(&args.user), &args.bundle)
            .await
            .map_err(|e| match e {
                StoreError::Invalid(fields) => Failure::Refused(format!(
                    "bundle {} refused, nothing was stored:\n{}",
                    args.bundle.display(),
                    fields
                        .iter()
                        .map(|f| format!("  {}", f.rule))
                        .collect::<Vec<_>>()
                        .join("\n")
                )),
                other => other.into(),
            })?;
        let total: usize = summary.records.iter().map(|(_, n)| n).sum();
        note!(
            "imported {total} records ({}); {} data queries opened",
            summary
                .records
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            summary.queries
        );
        store.close().await;
        Ok(())
    })
}

/// `isatrial export`.
pub fn export(args: &ExportArgs) -> Result<(), Failure> {
    let as_of = instant(args.as_of.as_deref())?;
    crate::out_folder::check("--bundle", &args.bundle, &[])?;
    block_on(async {
        let store = Store::open_existing(&args.db.db).await?;
        let actor = Actor::system("export");
        store.export_bundle(&actor, &args.bundle, as_of).await?;
        let (queries, signatures) = store.export_workflow(&actor, &args.bundle, as_of).await?;
        note!(
            "exported to {} (with {queries} queries raised by hand in manual_queries.json and {signatures} casebook signatures in signatures.json, which import does not load)",
            args.bundle.display()
        );
        store.close().await;
        Ok(())
    })
}

fn password() -> Result<String, Failure> {
    if let Ok(p) = std::env::var("ISATRIAL_PASSWORD") {
        return Ok(p);
    }
    // At a terminal the password is typed twice and never shown; from a
    // pipe (scripts, tests) the first line is the password.
    let p = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let first = rpassword::prompt_password("password: ")?;
        if rpassword::prompt_password("again: ")? != first {
            return Err(Failure::Refused("the two passwords differ".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if p.is_empty() {
        return Err(Failure::Refused(
            "give the password in ISATRIAL_PASSWORD, at the prompt, or on the first line of stdin"
                .into(),
        ));
    }
    Ok(p)
}

/// `isatrial user ...`.
pub fn user(cmd: &UserCommand) -> Result<(), Failure> {
    match cmd {
        UserCommand::Add(a) => {
            let role: Role = a
                .role
                .parse()
                .map_err(|e: String| Failure::Refused(format!("--role: {e}")))?;
            if let Some(full) = &a.full_name {
                store::check_full_name(full)
                    .map_err(|e| Failure::Refused(format!("--full-name: {e}")))?;
            }
            let pw = password()?;
            block_on(async {
                let store = Store::open(&a.db.db).await?;
                let created = store.add_user(&a.name, role, &a.sites, &pw).await?;
                if let Some(full) = &a.full_name {
                    store.set_full_name(&a.name, full).await?;
                }
                note!("added {} as {role}", a.name);
                for site in created {
                    note!("site {site} was not known and is created: check its spelling");
                }
                Ok(())
            })
        }
        UserCommand::Reset(a) => {
            let pw = password()?;
            block_on(async {
                Store::open_existing(&a.db.db)
                    .await?
                    .reset_password(&a.name, &pw)
                    .await?;
                note!("password of {} reset", a.name);
                Ok(())
            })
        }
        UserCommand::Disable(a) => block_on(async {
            Store::open_existing(&a.db.db)
                .await?
                .disable_user(&a.name)
                .await?;
            note!("{} disabled", a.name);
            Ok(())
        }),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_password_never_reaches_the_log() {
        assert_eq!(
            store::redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(store::redact("sqlite://trial.db"), "sqlite://trial.db");
    }
}
