//! What the server's tests share: a database holding bundle-60 with users,
//! served in process on a free port.

use std::net::SocketAddr;

use store::testing::{TestDb, admin, bundle_60};
use store::{Role, Store};
use web::AppState;

/// Every test user's password.
pub const PASSWORD: &str = "a long enough password";

/// Opens `db`, imports bundle-60 and adds each user (name, role, sites).
pub async fn bundle_60_with(db: &TestDb, users: &[(&str, Role, &[&str])]) -> Store {
    let store = db.open().await;
    store.import_bundle(&admin(), &bundle_60()).await.unwrap();
    for (user, role, sites) in users {
        let sites: Vec<String> = sites.iter().map(|s| (*s).to_owned()).collect();
        store.add_user(user, *role, &sites, PASSWORD).await.unwrap();
    }
    store
}

/// Serves `store` on a free port of 127.0.0.1 until the test ends.
pub async fn serve(store: &Store, behind_proxy: bool) -> SocketAddr {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let state = AppState {
        store: store.clone(),
        secure_cookies: false,
        behind_proxy,
    };
    tokio::spawn(async move {
        web::serve(state, "127.0.0.1:0".parse().unwrap(), |a| {
            let _ = tx.send(a);
        })
        .await
        .unwrap();
    });
    rx.await.unwrap()
}
