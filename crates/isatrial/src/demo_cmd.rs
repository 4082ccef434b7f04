//! `isatrial demo`: the main job end to end on a synthetic trial — simulate
//! it, import it into a SQLite database, write the report from the
//! database, and serve the case report forms and the API over it.

use store::{Actor, Role, Store};
use trial::simulate::SimulationConfig;

use crate::Failure;
use crate::cli::DemoArgs;

/// The demo's data manager, printed so the API can be tried at once.
const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "isatrial-demo-password";

/// Simulates, stores, reports and serves.
pub fn run(args: &DemoArgs) -> Result<(), Failure> {
    let bundle = args.out.join("bundle");
    let report_dir = args.out.join("report");
    let db_file = args.out.join("trial.db");
    for stale in ["trial.db", "trial.db-wal", "trial.db-shm"] {
        let _ = std::fs::remove_file(args.out.join(stale));
    }
    let config = SimulationConfig {
        patients: args.patients,
        seed: args.seed,
        ..SimulationConfig::default()
    };
    let n = crate::simulate_cmd::write(&config, &bundle)?;
    let url = format!("sqlite://{}", db_file.display());
    crate::db_cmd::block_on(async {
        let store = Store::open(&url).await?;
        store.import_bundle(&Actor::system("demo"), &bundle).await?;
        store
            .add_user(DEMO_USER, Role::DataManager, &[], DEMO_PASSWORD)
            .await?;
        store.close().await;
        Ok(())
    })?;
    let outcome = crate::report_cmd::build_from_db(&url, &report_dir, None, true)?;
    say!(
        "isatrial demo: a synthetic trial of {n} patients (seed {})",
        args.seed
    );
    say!("  bundle:    {}", bundle.display());
    say!("  database:  {url}");
    say!("  report:    {}", outcome.html.display());
    say!("  endpoints: {}", outcome.json.display());
    if let Some((dir, _, _)) = &outcome.adam {
        say!(
            "  ADaM:      {} (ADSL, ADAE, ADTTE as SAS transport and CSV)",
            dir.display()
        );
    }
    say!(
        "  queries:   {} open data queries, in {}",
        outcome.queries,
        report_dir.join("queries.csv").display()
    );
    if args.no_serve {
        return Ok(());
    }
    say!(
        "  forms:     http://{}/ — sign in as {DEMO_USER} / {DEMO_PASSWORD}",
        args.listen
    );
    say!(
        "  API:       http://{}/api/openapi.json (POST /api/login with the same account)",
        args.listen
    );
    crate::db_cmd::serve(&crate::cli::ServeArgs {
        db: crate::cli::DbArg { db: url },
        listen: args.listen,
        secure_cookies: false,
        behind_proxy: false,
    })
}
