//! Users, passwords (argon2id), sessions kept in the database (so several
//! server processes share them), login throttling and lockout, and the
//! pseudonyms statisticians see instead of patient ids.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::Store;
use crate::access::{Actor, Role, Scope};
use crate::clock::Instant;
use crate::error::StoreError;
use crate::records::{StoredRecord, begin, execute_alone, finish, writing};
use crate::state::audit;

/// Failed logins before the account is locked.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_SECONDS: i64 = 15 * 60;
/// Failed logins from one client address within [`ADDRESS_WINDOW_SECONDS`]
/// after which that address may not try again until enough of them are
/// older than the window. The per-account lockout alone lets one client try
/// four passwords on every account every 15 minutes.
pub const MAX_FAILED_LOGINS_PER_ADDRESS: i64 = 20;
/// The window of [`MAX_FAILED_LOGINS_PER_ADDRESS`].
pub const ADDRESS_WINDOW_SECONDS: i64 = 15 * 60;
/// How long a session lasts without signing in again.
pub const SESSION_SECONDS: i64 = 12 * 60 * 60;

/// Why a login failed. The message never says whether the user exists.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Wrong user name or password.
    #[error("wrong user name or password")]
    Wrong,
    /// Too many failures: locked for a while.
    #[error("too many failed logins: the account is locked for 15 minutes")]
    LockedOut,
    /// The account was disabled.
    #[error("the account is disabled")]
    Disabled,
    /// Too many failures from the client's address: no attempt from it is
    /// checked until `retry_after_seconds` have passed.
    #[error("too many failed logins from this address: try again in {} minutes", (.retry_after_seconds + 59) / 60)]
    Throttled {
        /// Seconds until the address may try again.
        retry_after_seconds: i64,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    /// The secret cookie value (only its hash is stored).
    #[serde(skip)]
    pub token: String,
    /// The token forms and API writes must echo.
    pub csrf: String,
    /// Who.
    pub actor: Actor,
}

/// A login attempt: who, from which client address (when known), when,
/// and its row in `login_attempts`.
struct Attempt<'a> {
    name: &'a str,
    from: Option<&'a str>,
    now: Instant,
    id: String,
}

impl Attempt<'_> {
    /// Writes its `login_failed` audit entry: why, and from where when
    /// known.
    async fn audit_refusal(
        &self,
        conn: &mut sqlx::AnyConnection,
        why: &str,
    ) -> Result<(), StoreError> {
        let detail = match self.from {
            Some(address) => format!("{why} (from {address})"),
            None => why.to_owned(),
        };
        audit(
            conn,
            &self.now,
            self.name,
            "login_failed",
            None,
            None,
            None,
            None,
            Some(detail),
        )
        .await
    }

    /// Where the address's window of counted failures starts.
    fn window_start(&self) -> String {
        self.now.plus_seconds(-ADDRESS_WINDOW_SECONDS).to_db()
    }
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the system has a random source");
    hex::encode(b)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Passwords refused whatever their length: those guessed first.
const GUESSED_FIRST: [&str; 8] = [
    "1234567890",
    "12345678910",
    "0123456789",
    "password123",
    "password1234",
    "qwertyuiop",
    "1q2w3e4r5t",
    "iloveyou123",
];

fn hash_password(password: &str) -> Result<String, StoreError> {
    if password.chars().count() < 10 {
        return Err(StoreError::field(
            "password",
            "must be at least 10 characters",
        ));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if password.trim().is_empty()
        || chars.all(|c| Some(c) == first)
        || GUESSED_FIRST.contains(&password.to_lowercase().as_str())
    {
        return Err(StoreError::field(
            "password",
            "is one of those guessed first (blank, one character repeated, a common \
             password); choose another",
        ));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h: PasswordHash| h.to_string())
        .map_err(|e| StoreError::Database(e.to_string()))
}

/// A full name as it is kept: trimmed, at most 100 characters, without
/// control, direction or invisible characters (tabs and line breaks
/// included): a printed name is how a signature reads (§11.50), and none
/// may make it read as another.
pub fn check_full_name(full_name: &str) -> Result<&str, StoreError> {
    let full_name = full_name.trim();
    if full_name
        .chars()
        .any(|c| c.is_control() || crate::write::control_or_direction(c))
        || full_name.chars().count() > 100
    {
        return Err(StoreError::field(
            "name",
            "a full name is at most 100 characters, without control or direction characters",
        ));
    }
    Ok(full_name)
}

/// An attempt counted against an account.
enum Attempted {
    /// The attempt's number among the failures in a row, this one included.
    Counted(i64),
    /// The account is locked: the password is not checked.
    LockedOut,
}

/// Whether `password` is the one `hash` was made from.
fn password_matches(hash: &str, password: &str) -> bool {
    !password.contains('\0')
        && PasswordHash::new(hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
}

impl Store {
    /// Adds a user. Site staff need exactly one site; a monitor is given the
    /// sites they monitor, at least one. A site not yet known (to users or
    /// records) is created; those are returned, so that a mistyped one is
    /// seen.
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        sites: &[String],
        password: &str,
    ) -> Result<Vec<String>, StoreError> {
        if name.is_empty()
            || name.len() > 64
            || name.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(StoreError::field(
                "user",
                "must be 1–64 characters without spaces",
            ));
        }
        let article = |role: Role| {
            let vowel = role.as_str().starts_with(['a', 'e', 'i', 'o', 'u']);
            format!("{} {role}", if vowel { "an" } else { "a" })
        };
        if role.is_site_staff() && sites.len() != 1 {
            return Err(StoreError::field(
                "site",
                format!("{} belongs to exactly one site", article(role)),
            ));
        }
        if role == Role::Monitor && sites.is_empty() {
            return Err(StoreError::field(
                "site",
                "a monitor is given the sites they monitor; give at least one",
            ));
        }
        if !role.is_site_staff() && role != Role::Monitor && !sites.is_empty() {
            return Err(StoreError::field(
                "site",
                format!("{} sees every site; give no site", article(role)),
            ));
        }
        // A site id is written into every patient record of the site, where
        // the bundle's rule for identifiers holds.
        if let Some((site, rule)) = sites
            .iter()
            .find_map(|s| s.parse::<trial::values::Id>().err().map(|e| (s, e)))
        {
            return Err(StoreError::field("site", format!("site {site:?} {rule}")));
        }
        if let Some(twice) = sites
            .iter()
            .enumerate()
            .find(|(i, s)| sites[..*i].contains(s))
        {
            return Err(StoreError::field(
                "site",
                format!("site {} is given twice", twice.1),
            ));
        }
        let hash = hash_password(password)?;
        let mut conn = begin(self).await?;
        let outcome = async {
            // The audit trail names users: two that differ in case alone
            // would read as one.
            let alike: Option<String> =
                sqlx::query_scalar("SELECT user_name FROM users WHERE LOWER(user_name) = LOWER($1) AND user_name <> $1")
                    .bind(name)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(other) = alike {
                return Err(StoreError::field(
                    "user",
                    format!("{other} already exists; a name differing only in case would read as the same user"),
                ));
            }
            let at = Instant::now();
            let mut created = Vec::new();
            for site in sites {
                let exists: Option<String> = sqlx::query_scalar("SELECT site_id FROM sites WHERE site_id = $1")
                    .bind(site)
                    .fetch_optional(&mut *conn)
                    .await?;
                if exists.is_none() {
                    sqlx::query("INSERT INTO sites (site_id, name) VALUES ($1, $2)").bind(site).bind(site).execute(&mut *conn).await?;
                    // A site of imported records is known, though only a
                    // user's site is entered in `sites`.
                    let in_records: Option<i32> = sqlx::query_scalar("SELECT 1 FROM record_versions WHERE site_id = $1 LIMIT 1")
                        .bind(site)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if in_records.is_none() {
                        created.push(site.clone());
                    }
                }
            }
            let staff_site = if role.is_site_staff() { sites.first().cloned() } else { None };
            let inserted = sqlx::query(
                "INSERT INTO users (user_name, role, site_id, password_hash, disabled, failed_logins, created_at) VALUES ($1, $2, $3, $4, 0, 0, $5)",
            )
            .bind(name)
            .bind(role.as_str())
            .bind(staff_site)
            .bind(&hash)
            .bind(at.to_db())
            .execute(&mut *conn)
            .await;
            match inserted {
                Err(e) if crate::records::is_unique_violation(&e) => {
                    return Err(StoreError::field("user", format!("user \"{name}\" exists already")));
                }
                other => {
                    other?;
                }
            }
            if role == Role::Monitor {
                for site in sites {
                    sqlx::query("INSERT INTO monitor_sites (user_name, site_id) VALUES ($1, $2)").bind(name).bind(site).execute(&mut *conn).await?;
                }
            }
            audit(&mut conn, &at, "system", "user_add", None, None, None, None, Some(format!("{name} as {role} ({})", sites.join(", ")))).await?;
            Ok(created)
        }
        .await;
        finish(conn, outcome).await
    }

    /// Sets the full name printed with the user's signatures; an empty
    /// name prints the user name.
    pub async fn set_full_name(&self, name: &str, full_name: &str) -> Result<(), StoreError> {
        let full_name = check_full_name(full_name)?;
        let stored = (!full_name.is_empty()).then_some(full_name);
        let mut conn = begin(self).await?;
        let outcome = async {
            let changed = sqlx::query("UPDATE users SET full_name = $1 WHERE user_name = $2")
                .bind(stored)
                .bind(name)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            if changed == 0 {
                return Err(StoreError::field("user", format!("no user \"{name}\"")));
            }
            audit(
                &mut conn,
                &Instant::now(),
                "system",
                "user_full_name",
                None,
                None,
                None,
                None,
                Some(format!("{name}: {full_name}")),
            )
            .await
        }
        .await;
        finish(conn, outcome).await
    }

    /// Sets a new password, lifts a lockout and ends the user's sessions
    /// (a reset is the answer to a password someone else may know).
    pub async fn reset_password(&self, name: &str, password: &str) -> Result<(), StoreError> {
        let hash = hash_password(password)?;
        self.change_user(name, "user_reset", "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE user_name = $2", Some(hash)).await?;
        self.end_sessions(name).await
    }

    async fn end_sessions(&self, name: &str) -> Result<(), StoreError> {
        execute_alone(
            self,
            sqlx::query("UPDATE sessions SET expires_at = $1 WHERE user_name = $2")
                .bind(Instant::now().to_db())
                .bind(name),
        )
        .await?;
        Ok(())
    }

    /// Disables an account and ends its sessions (nothing is deleted).
    pub async fn disable_user(&self, name: &str) -> Result<(), StoreError> {
        self.change_user(
            name,
            "user_disable",
            "UPDATE users SET disabled = 1 WHERE user_name = $1",
            None,
        )
        .await?;
        self.end_sessions(name).await
    }

    async fn change_user(
        &self,
        name: &str,
        action: &str,
        sql: &str,
        value: Option<String>,
    ) -> Result<(), StoreError> {
        let mut conn = begin(self).await?;
        let outcome = async {
            let q = sqlx::query(sql);
            let q = match &value {
                Some(v) => q.bind(v.clone()).bind(name),
                None => q.bind(name),
            };
            if q.execute(&mut *conn).await?.rows_affected() == 0 {
                return Err(StoreError::field("user", format!("no user \"{name}\"")));
            }
            audit(
                &mut conn,
                &Instant::now(),
                "system",
                action,
                None,
                None,
                None,
                None,
                Some(name.to_owned()),
            )
            .await
        }
        .await;
        finish(conn, outcome).await
    }

    /// The actor of a user name.
    async fn actor(
        &self,
        name: &str,
        role: &str,
        site: Option<String>,
    ) -> Result<Actor, StoreError> {
        let role: Role = role.parse().map_err(StoreError::Database)?;
        let scope = if role.is_site_staff() {
            Scope::Sites(site.into_iter().collect())
        } else if role == Role::Monitor {
            let sites: Vec<String> = sqlx::query_scalar(
                "SELECT site_id FROM monitor_sites WHERE user_name = $1 ORDER BY site_id",
            )
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
            Scope::Sites(sites)
        } else {
            Scope::All
        };
        Ok(Actor {
            user: name.to_owned(),
            role,
            scope,
        })
    }

    /// Checks a password and opens a session. Failures are counted; the
    /// fifth in a row locks the account for 15 minutes, the twentieth from
    /// one client address (`from`, when known) within 15 minutes stops that
    /// address's attempts being checked at all until enough of them are 15
    /// minutes old. Every attempt is in the audit trail, with its address.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        from: Option<&str>,
    ) -> Result<Session, LoginError> {
        if name.contains('\0') || password.contains('\0') {
            return Err(LoginError::Wrong);
        }
        let now = Instant::now();
        let attempt = Attempt {
            name,
            from,
            now,
            id: random_hex(16),
        };
        if let Some(retry_after_seconds) = self.count_attempt(&attempt).await? {
            self.audit_login(
                &attempt,
                "throttled: too many failed logins from the address",
            )
            .await?;
            return Err(LoginError::Throttled {
                retry_after_seconds,
            });
        }
        let row = sqlx::query("SELECT role, site_id, password_hash, disabled, failed_logins, locked_until FROM users WHERE user_name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::from)?;
        let Some(row) = row else {
            // Same work as a real check, so timing does not reveal the user.
            let _ = hash_password("not-a-real-password-at-all");
            self.failed_login(&attempt, "unknown user").await?;
            return Err(LoginError::Wrong);
        };
        let (role, site, hash, disabled): (String, Option<String>, String, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        let Attempted::Counted(count) = self.count_password_attempt(name, &now).await? else {
            self.failed_login(&attempt, "locked out").await?;
            return Err(LoginError::LockedOut);
        };
        if !password_matches(&hash, password) {
            let locked = self.after_wrong_password(name, count, &now).await?;
            self.failed_login(
                &attempt,
                if locked {
                    "wrong password; locked out"
                } else {
                    "wrong password"
                },
            )
            .await?;
            return Err(if locked {
                LoginError::LockedOut
            } else {
                LoginError::Wrong
            });
        }
        // Only the right password learns that the account is disabled; a
        // wrong one answers, and counts toward the lockout, as for any
        // account.
        if disabled != 0 {
            self.failed_login(&attempt, "disabled").await?;
            return Err(LoginError::Disabled);
        }
        let actor = self.actor(name, &role, site).await?;
        let token = random_hex(32);
        let csrf = random_hex(16);
        let mut conn = begin(self).await?;
        let outcome = async {
            // Not over a lock set meanwhile by attempts made at once.
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE user_name = $1 AND (locked_until IS NULL OR locked_until <= $2)").bind(name).bind(now.to_db()).execute(&mut *conn).await?;
            sqlx::query("DELETE FROM login_attempts WHERE attempt = $1").bind(&attempt.id).execute(&mut *conn).await?;
            sqlx::query("INSERT INTO sessions (token_hash, user_name, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash(&token))
                .bind(name)
                .bind(&csrf)
                .bind(now.to_db())
                .bind(now.plus_seconds(SESSION_SECONDS).to_db())
                .execute(&mut *conn)
                .await?;
            audit(&mut conn, &now, name, "login", None, None, None, None, from.map(|a| format!("from {a}"))).await
        }
        .await;
        finish(conn, outcome).await?;
        Ok(Session { token, csrf, actor })
    }

    /// Checks the signed-in user's own password again, as an electronic
    /// signature requires, for `patient`'s casebook. A wrong password
    /// counts toward the account's lockout as a failed login does (the
    /// count is taken before the password is checked, so attempts made at
    /// once cannot all be checked), and a right one clears the count.
    pub(crate) async fn recheck_password(
        &self,
        name: &str,
        password: &str,
        patient: &str,
        registration: i64,
    ) -> Result<(), StoreError> {
        const REFUSED: &str = "this is not your password: nothing was signed";
        const LOCKED: &str = "too many wrong passwords: the account is locked for 15 minutes";
        if password.is_empty() {
            return Err(StoreError::field("password", "enter your password to sign"));
        }
        let row = sqlx::query("SELECT password_hash, disabled FROM users WHERE user_name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Err(StoreError::field("password", REFUSED));
        };
        let (hash, disabled): (String, i64) = (row.get(0), row.get(1));
        if disabled != 0 {
            return Err(StoreError::Forbidden("the account is disabled".into()));
        }
        let now = Instant::now();
        let refused = |why: &'static str, rule: &'static str| async move {
            self.refuse_signature(name, (patient, registration), why)
                .await?;
            Err(StoreError::field("password", rule))
        };
        let Attempted::Counted(count) = self.count_password_attempt(name, &now).await? else {
            return refused("locked out", LOCKED).await;
        };
        if password_matches(&hash, password) {
            // Not over a lock set meanwhile by attempts made at once.
            execute_alone(
                self,
                sqlx::query(
                    "UPDATE users SET failed_logins = 0
                     WHERE user_name = $1 AND (locked_until IS NULL OR locked_until <= $2)",
                )
                .bind(name)
                .bind(now.to_db()),
            )
            .await?;
            return Ok(());
        }
        if self.after_wrong_password(name, count, &now).await? {
            refused("wrong password; locked out", LOCKED).await
        } else {
            refused("wrong password", REFUSED).await
        }
    }

    /// Counts a password attempt against the account before the password
    /// is checked: an atomic increment, so that of attempts made at once
    /// each sees those before it. Past the limit the account is locked and
    /// the attempt is not checked.
    async fn count_password_attempt(
        &self,
        name: &str,
        now: &Instant,
    ) -> Result<Attempted, StoreError> {
        let mut conn = begin(self).await?;
        let outcome = async {
            let count: Option<i64> = sqlx::query_scalar(
                "UPDATE users SET failed_logins = failed_logins + 1
                 WHERE user_name = $1 AND (locked_until IS NULL OR locked_until <= $2)
                 RETURNING failed_logins",
            )
            .bind(name)
            .bind(now.to_db())
            .fetch_optional(&mut *conn)
            .await?;
            match count {
                Some(count) if count <= MAX_FAILED_LOGINS => Ok(Attempted::Counted(count)),
                Some(_) => {
                    sqlx::query(
                        "UPDATE users SET failed_logins = 0, locked_until = $1 WHERE user_name = $2",
                    )
                    .bind(now.plus_seconds(LOCKOUT_SECONDS).to_db())
                    .bind(name)
                    .execute(&mut *conn)
                    .await?;
                    Ok(Attempted::LockedOut)
                }
                None => Ok(Attempted::LockedOut),
            }
        }
        .await;
        finish(conn, outcome).await
    }

    /// After a wrong password counted as attempt `count`: the last one
    /// allowed locks the account. Returns whether it is locked now.
    async fn after_wrong_password(
        &self,
        name: &str,
        count: i64,
        now: &Instant,
    ) -> Result<bool, StoreError> {
        if count < MAX_FAILED_LOGINS {
            return Ok(false);
        }
        // Unless a reset (or a right password) cleared the count meanwhile.
        execute_alone(
            self,
            sqlx::query(
                "UPDATE users SET failed_logins = 0, locked_until = $1
                 WHERE user_name = $2 AND failed_logins >= $3",
            )
            .bind(now.plus_seconds(LOCKOUT_SECONDS).to_db())
            .bind(name)
            .bind(count),
        )
        .await?;
        Ok(true)
    }

    /// Audits a refused attempt: `login_failed` with why and from where.
    async fn audit_login(&self, attempt: &Attempt<'_>, why: &str) -> Result<(), StoreError> {
        let mut conn = writing(self).await?;
        let audited = attempt.audit_refusal(&mut conn, why).await;
        conn.settle();
        audited
    }

    /// Audits a failed attempt. Its row in `login_attempts` stays, as a
    /// failure of its address; every address's failures older than the
    /// window go, in the same transaction.
    async fn failed_login(&self, attempt: &Attempt<'_>, why: &str) -> Result<(), StoreError> {
        let mut conn = begin(self).await?;
        let outcome = async {
            attempt.audit_refusal(&mut conn, why).await?;
            if attempt.from.is_some() {
                sqlx::query("DELETE FROM login_attempts WHERE at <= $1")
                    .bind(attempt.window_start())
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }
        .await;
        finish(conn, outcome).await
    }

    /// Records the attempt against its address before its password is
    /// checked, then counts the address's attempts in the window, its own
    /// included: of attempts made at once, each counts those recorded
    /// before it, so no more than the limit are ever checked. Past the
    /// limit the attempt is not checked (and its row goes); returns the
    /// seconds until enough of the address's failures have left the window
    /// for one more attempt.
    async fn count_attempt(&self, attempt: &Attempt<'_>) -> Result<Option<i64>, StoreError> {
        let Some(address) = attempt.from else {
            return Ok(None);
        };
        // Refused by a read alone while the address is over its limit: a
        // flood of attempts then writes nothing and queues no write.
        let before = self.attempts_in_window(attempt, address).await?;
        if before >= MAX_FAILED_LOGINS_PER_ADDRESS {
            return self.retry_after(attempt, address, before).await.map(Some);
        }
        execute_alone(
            self,
            sqlx::query("INSERT INTO login_attempts (attempt, address, at) VALUES ($1, $2, $3)")
                .bind(&attempt.id)
                .bind(address)
                .bind(attempt.now.to_db()),
        )
        .await?;
        let counted = self.attempts_in_window(attempt, address).await?;
        if counted <= MAX_FAILED_LOGINS_PER_ADDRESS {
            return Ok(None);
        }
        execute_alone(
            self,
            sqlx::query("DELETE FROM login_attempts WHERE attempt = $1").bind(&attempt.id),
        )
        .await?;
        self.retry_after(attempt, address, counted - 1)
            .await
            .map(Some)
    }

    async fn attempts_in_window(
        &self,
        attempt: &Attempt<'_>,
        address: &str,
    ) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM login_attempts WHERE address = $1 AND at > $2",
            )
            .bind(address)
            .bind(attempt.window_start())
            .fetch_one(&self.pool)
            .await?,
        )
    }

    /// Seconds until one more attempt from `address` is allowed, given
    /// `others` of its attempts in the window: once all but MAX - 1 of
    /// them have left it.
    async fn retry_after(
        &self,
        attempt: &Attempt<'_>,
        address: &str,
        others: i64,
    ) -> Result<i64, StoreError> {
        let frees: Option<String> = sqlx::query_scalar(
            "SELECT at FROM login_attempts WHERE address = $1 AND at > $2 ORDER BY at LIMIT 1 OFFSET $3",
        )
        .bind(address)
        .bind(attempt.window_start())
        .bind(others - MAX_FAILED_LOGINS_PER_ADDRESS)
        .fetch_optional(&self.pool)
        .await?;
        let Some(frees) = frees else {
            // Left the window meanwhile.
            return Ok(1);
        };
        let frees: Instant = frees
            .parse()
            .map_err(|e: crate::clock::BadInstant| StoreError::Database(e.to_string()))?;
        let free = frees.plus_seconds(ADDRESS_WINDOW_SECONDS);
        Ok(attempt.now.seconds_until(free).max(1))
    }

    /// The session of a cookie token, if valid and the user still enabled.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.user_name, s.csrf_token, u.role, u.site_id FROM sessions s JOIN users u ON u.user_name = s.user_name
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
        )
        .bind(token_hash(token))
        .bind(Instant::now().to_db())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let name: String = row.get(0);
        let actor = self
            .actor(&name, &row.get::<String, _>(2), row.get(3))
            .await?;
        Ok(Some(Session {
            token: token.to_owned(),
            csrf: row.get(1),
            actor,
        }))
    }

    /// Ends a session (it expires now; nothing is deleted).
    pub async fn logout(&self, token: &str) -> Result<(), StoreError> {
        execute_alone(
            self,
            sqlx::query("UPDATE sessions SET expires_at = $1 WHERE token_hash = $2")
                .bind(Instant::now().to_db())
                .bind(token_hash(token)),
        )
        .await?;
        Ok(())
    }

    /// A stable pseudonym of a patient id, keyed by this database's secret so
    /// that it cannot be reversed by hashing candidate ids.
    pub fn pseudonym(&self, patient_id: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.pseudonym_key.as_bytes());
        h.update(patient_id.as_bytes());
        format!("PS-{}", &hex::encode(h.finalize())[..12])
    }

    pub(crate) fn pseudonymize(&self, record: &mut StoredRecord) {
        let real = std::mem::take(&mut record.patient_id);
        record.patient_id = self.pseudonym(&real);
        record.key = self.pseudonymize_key(&real, &record.key);
        self.pseudonymize_fields(&mut record.fields);
    }

    /// A record key without the patient id it may hold: a patient's or
    /// status's key is the id; an imported record's starts with it
    /// (`P001/doses/1`).
    pub(crate) fn pseudonymize_key(&self, patient_id: &str, key: &str) -> String {
        if key == patient_id {
            self.pseudonym(patient_id)
        } else if let Some(rest) = key
            .strip_prefix(patient_id)
            .and_then(|r| r.strip_prefix('/'))
        {
            format!("{}/{rest}", self.pseudonym(patient_id))
        } else {
            key.to_owned()
        }
    }

    /// The stored key or patient id a pseudonymized user names: their
    /// pseudonyms are mapped back; a real patient id, which would confirm
    /// who is in the trial, finds nothing. Keys without a patient part (AE
    /// ids, keys the API made) are kept.
    pub(crate) async fn unmask(&self, actor: &Actor, name: &str) -> Result<String, StoreError> {
        // No key holds NUL, and PostgreSQL refuses it in a query.
        if name.contains('\0') {
            return Err(StoreError::NotFound);
        }
        if !actor.pseudonymized() {
            return Ok(name.to_owned());
        }
        let (head, rest) = match name.split_once('/') {
            Some((head, rest)) => (head, Some(rest)),
            None => (name, None),
        };
        if !head.starts_with("PS-") {
            let is_patient: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM record_current WHERE tbl = 'patients' AND record_key = $1",
            )
            .bind(head)
            .fetch_optional(&self.pool)
            .await?;
            return if rest.is_some() || is_patient.is_some() {
                Err(StoreError::NotFound)
            } else {
                Ok(name.to_owned())
            };
        }
        let known = |store: &Self| {
            store
                .unmasked
                .lock()
                .expect("the pseudonym map is never left half-written")
                .get(head)
                .cloned()
        };
        let real = match known(self) {
            Some(real) => real,
            None => {
                // A patient registered since the map was filled, or no
                // patient at all: the count tells which, without hashing.
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM record_current WHERE tbl = 'patients'",
                )
                .fetch_one(&self.pool)
                .await?;
                let mapped = self
                    .unmasked
                    .lock()
                    .expect("the pseudonym map is never left half-written")
                    .len();
                if count as usize == mapped {
                    return Err(StoreError::NotFound);
                }
                // Match the pseudonyms of every patient once, and keep them.
                let patients: Vec<String> = sqlx::query_scalar(
                    "SELECT record_key FROM record_current WHERE tbl = 'patients'",
                )
                .fetch_all(&self.pool)
                .await?;
                let pairs: Vec<(String, String)> = patients
                    .into_iter()
                    .map(|id| (self.pseudonym(&id), id))
                    .collect();
                self.unmasked
                    .lock()
                    .expect("the pseudonym map is never left half-written")
                    .extend(pairs);
                known(self).ok_or(StoreError::NotFound)?
            }
        };
        Ok(match rest {
            Some(rest) => format!("{real}/{rest}"),
            None => real,
        })
    }

    pub(crate) fn pseudonymize_fields(
        &self,
        fields: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        if let Some(serde_json::Value::String(id)) = fields.get_mut("patient_id") {
            *id = self.pseudonym(id);
        }
    }
}

/// Makes (once) and reads the database's pseudonym key.
pub(crate) async fn pseudonym_key(pool: &sqlx::AnyPool) -> Result<String, StoreError> {
    let existing: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE name = 'pseudonym_key'")
            .fetch_optional(pool)
            .await?;
    if let Some(k) = existing {
        return Ok(k);
    }
    let key = random_hex(32);
    let inserted = sqlx::query("INSERT INTO settings (name, value) VALUES ('pseudonym_key', $1)")
        .bind(&key)
        .execute(pool)
        .await;
    match inserted {
        Ok(_) => Ok(key),
        // Another process made it first: use theirs.
        Err(e) if crate::records::is_unique_violation(&e) => Ok(sqlx::query_scalar(
            "SELECT value FROM settings WHERE name = 'pseudonym_key'",
        )
        .fetch_one(pool)
        .await?),
        Err(e) => Err(e.into()),
    }
}
