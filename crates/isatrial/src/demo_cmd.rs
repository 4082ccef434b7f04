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

/// One user of each other role, at the trial's first site, so that every
/// path of the forms can be tried: the nurse enters, the monitor raises a
/// query, the investigator answers it and signs, the statistician reads
/// pseudonyms. Same password as the data manager.
const DEMO_ROLES: [(&str, Role, Option<&str>); 4] = [
    (
        "investigator",
        Role::Investigator,
        Some("Dr Demo Investigator"),
    ),
    ("nurse", Role::StudyNurse, None),
    ("monitor", Role::Monitor, None),
    ("statistician", Role::Statistician, None),
];

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
    let site = crate::db_cmd::block_on(async {
        let store = Store::open(&url).await?;
        store.import_bundle(&Actor::system("demo"), &bundle).await?;
        store
            .add_user(DEMO_USER, Role::DataManager, &[], DEMO_PASSWORD)
            .await?;
        let site = store
            .sites(&Actor::system("demo"))
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| "S1".to_owned());
        for (user, role, full_name) in DEMO_ROLES {
            let sites = if role == Role::Statistician {
                Vec::new()
            } else {
                vec![site.clone()]
            };
            store.add_user(user, role, &sites, DEMO_PASSWORD).await?;
            if let Some(full_name) = full_name {
                store.set_full_name(user, full_name).await?;
            }
        }
        store.close().await;
        Ok::<String, Failure>(site)
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
        "  forms:     http://{}/ — sign in as {DEMO_USER} (data manager) / {DEMO_PASSWORD}",
        args.listen
    );
    say!(
        "             or, with the same password, as {} (site {site}), or statistician",
        DEMO_ROLES
            .iter()
            .filter(|(_, role, _)| *role != Role::Statistician)
            .map(|(user, _, _)| *user)
            .collect::<Vec<_>>()
            .join(", ")
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
