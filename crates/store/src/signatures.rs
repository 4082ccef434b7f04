//! Investigators' electronic signatures of a patient's casebook: the
//! investigator confirms, with their password again, that the casebook's
//! data are complete and accurate. A signature is linked to the data it
//! covered (the last version of the patient's records then): a later
//! change leaves it in the record, shown as no longer covering the data,
//! and the casebook waits for a new one.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{begin, finish};
use crate::state::{audit, refuse_if_locked};
use crate::write::{hold_patient, hold_trial_state};
use crate::{Actor, Backend, Instant, Role, Store, StoreError};

/// What a casebook signature means, shown beside the form and kept with
/// each signature (21 CFR Part 11 §11.50(a)(3)).
pub const SIGNATURE_MEANING: &str =
    "I have reviewed the data of this casebook and confirm that they are complete and accurate.";

/// One signature of a casebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// Its number.
    pub id: i64,
    /// The patient, as the reader sees them (a pseudonym for a
    /// statistician).
    pub patient_id: String,
    /// Who signed: the user's name.
    pub user: String,
    /// Their full name as printed with the signature (the user name when
    /// the account has none).
    pub printed_name: String,
    /// Their role then.
    pub role: String,
    /// What the signature means.
    pub meaning: String,
    /// When, as stored (UTC, microseconds).
    pub signed_at: String,
    /// The patient's site when signed.
    pub site_id: String,
    /// The casebook's version signed: the last version of the patient's
    /// records then ([`Store::casebook_version`]).
    pub casebook_version: i64,
    /// No record of the patient changed since.
    pub covers_current_data: bool,
}

/// Why a signature is asked for: the casebook's version the signer read,
/// and their user name and password again.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    /// The signer's user name, typed again.
    pub user: &'a str,
    /// Their password.
    pub password: &'a str,
    /// The casebook's version they read ([`Store::casebook_version`]):
    /// refused as a conflict when the records changed since.
    pub casebook_version: i64,
}

/// The columns every read of signatures selects, in [`signature_of`]'s
/// order; the last says whether no version of the patient's records came
/// after the one signed.
const COLUMNS: &str = "s.id, s.patient_id, s.user_name, s.printed_name, s.role, s.meaning, s.signed_at, s.site_id, s.covered_seq,
    CASE WHEN s.covered_seq = (SELECT MAX(seq) FROM record_current r WHERE r.patient_id = s.patient_id)
         THEN 1 ELSE 0 END";

fn signature_of(r: &AnyRow) -> Signature {
    Signature {
        id: r.get(0),
        patient_id: r.get(1),
        user: r.get(2),
        printed_name: r.get(3),
        role: r.get(4),
        meaning: r.get(5),
        signed_at: r.get(6),
        site_id: r.get(7),
        casebook_version: r.get(8),
        covers_current_data: r.get::<i64, _>(9) == 1,
    }
}

impl Store {
    /// Signs a patient's casebook as its site's investigator, after
    /// checking `password` is theirs.
    pub async fn sign_casebook(
        &self,
        actor: &Actor,
        patient_id: &str,
        signing: Signing<'_>,
    ) -> Result<Signature, StoreError> {
        let (patient_id, site, registration) = self.patient_read_by(actor, patient_id).await?;
        if actor.role != Role::Investigator {
            return Err(StoreError::Forbidden(
                "only an investigator of the patient's site signs the casebook".into(),
            ));
        }
        // Both components of the signature at every signing (§11.200):
        // the user name typed must be the signed-in user's.
        if signing.user.trim() != actor.user {
            // Someone signing under another's name: audited and logged.
            self.refuse_signature(
                &actor.user,
                (&patient_id, registration),
                &format!("another user name typed: {:?}", signing.user),
            )
            .await?;
            return Err(StoreError::field(
                "user",
                "type your own user name, as you sign in",
            ));
        }
        // What refuses the signature whatever the password is said before
        // the password is checked, so that it counts no failure.
        if self.state().await?.locked {
            return Err(StoreError::Locked(
                "a data manager must unlock it before any signature".into(),
            ));
        }
        let read = signing.casebook_version;
        let stale = |current: i64| {
            if read == current {
                Ok(())
            } else {
                Err(StoreError::Conflict {
                    expected: read,
                    current,
                })
            }
        };
        stale(self.version_of_casebook(&patient_id).await?)?;
        self.recheck_password(&actor.user, signing.password, &patient_id, registration)
            .await?;
        let printed: Option<String> =
            sqlx::query_scalar("SELECT full_name FROM users WHERE user_name = $1")
                .bind(&actor.user)
                .fetch_optional(&self.pool)
                .await?
                .flatten();
        let printed = printed
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| actor.user.clone());
        let mut tx = begin(self).await?;
        let outcome = async {
            if self.backend == Backend::Postgres {
                // As a change does (write.rs): a lock waits for the
                // signature, and a change of the patient in flight commits
                // before the signature reads what it covers.
                hold_trial_state(&mut tx).await?;
                hold_patient(&mut tx, Some(&patient_id), ("", "")).await?;
            }
            refuse_if_locked(&mut tx).await?;
            let covered: i64 =
                sqlx::query_scalar("SELECT MAX(seq) FROM record_current WHERE patient_id = $1")
                    .bind(&patient_id)
                    .fetch_one(&mut *tx)
                    .await?;
            stale(covered)?;
            // A form sent twice (a double click) signs once: the same
            // signer's last signature of this version is the signature.
            let same: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM signatures WHERE patient_id = $1 AND user_name = $2 AND covered_seq = $3",
            )
            .bind(&patient_id)
            .bind(&actor.user)
            .bind(covered)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(same) = same {
                return Ok(same);
            }
            let at = Instant::now();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO signatures (patient_id, site_id, user_name, printed_name, role, meaning, signed_at, covered_seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(&patient_id)
            .bind(&site)
            .bind(&actor.user)
            .bind(&printed)
            .bind(actor.role.as_str())
            .bind(SIGNATURE_MEANING)
            .bind(at.to_db())
            .bind(covered)
            .fetch_one(&mut *tx)
            .await?;
            audit(
                &mut tx,
                &at,
                &actor.user,
                "sign",
                Some(("patients", &patient_id, registration)),
                None,
                None,
                None,
                Some(format!("signature {id}: {SIGNATURE_MEANING}")),
            )
            .await?;
            Ok(id)
        }
        .await;
        let id = finish(tx, outcome).await?;
        let signatures = self.signatures(actor, &patient_id).await?;
        signatures
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| StoreError::Database("a signature just made is not there".into()))
    }

    /// Every signature of a patient's casebook, oldest first, each saying
    /// whether it still covers the data.
    pub async fn signatures(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<Vec<Signature>, StoreError> {
        let shown = patient_id;
        let (patient_id, _, _) = self.patient_read_by(actor, patient_id).await?;
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM signatures s WHERE s.patient_id = $1 ORDER BY s.id"
        ))
        .bind(&patient_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Signature {
                patient_id: shown.to_owned(),
                ..signature_of(r)
            })
            .collect())
    }

    /// Every signature of the patients the actor reads, by patient and
    /// then oldest first: what an archive of the trial keeps.
    pub async fn all_signatures(&self, actor: &Actor) -> Result<Vec<Signature>, StoreError> {
        if actor.pseudonymized() {
            return Err(StoreError::Forbidden(
                "signatures name patients; statisticians read them per casebook".into(),
            ));
        }
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, c.site_id FROM signatures s
             JOIN record_current c ON c.tbl = 'patients' AND c.record_key = s.patient_id
             ORDER BY s.patient_id, s.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .filter(|r| actor.reads(&r.get::<String, _>(10)))
            .map(signature_of)
            .collect())
    }

    /// For every patient of the actor's sites whose casebook was signed:
    /// whether the last signature still covers the data. Keyed by the
    /// patient as the actor sees them (a pseudonym for a statistician).
    pub async fn signature_states(
        &self,
        actor: &Actor,
    ) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        let sites = crate::access::sites_condition(actor, "c.site_id")
            .map_or(String::new(), |c| format!("WHERE {c}"));
        let rows = sqlx::query(&format!(
            "SELECT s.patient_id, c.site_id,
                    CASE WHEN MAX(s.covered_seq) = (SELECT MAX(seq) FROM record_current r WHERE r.patient_id = s.patient_id)
                         THEN 1 ELSE 0 END
             FROM signatures s JOIN record_current c ON c.tbl = 'patients' AND c.record_key = s.patient_id
             {sites}
             GROUP BY s.patient_id, c.site_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|r| actor.reads(&r.get::<String, _>(1)))
            .map(|r| {
                let patient: String = r.get(0);
                let shown = if actor.pseudonymized() {
                    self.pseudonym(&patient)
                } else {
                    patient
                };
                (shown, r.get::<i64, _>(2) == 1)
            })
            .collect())
    }

    /// Audits and logs a refused signature of `patient`'s casebook (its
    /// id and registration's version) by `user`, and why: an inspector
    /// sees every attempt, not only the signatures made.
    pub(crate) async fn refuse_signature(
        &self,
        user: &str,
        (patient, registration): (&str, i64),
        why: &str,
    ) -> Result<(), StoreError> {
        tracing::warn!(user = %user, patient = %patient, why, "signature refused");
        let mut tx = begin(self).await?;
        let outcome = audit(
            &mut tx,
            &Instant::now(),
            user,
            "signature_refused",
            Some(("patients", patient, registration)),
            None,
            None,
            None,
            Some(why.to_owned()),
        )
        .await;
        finish(tx, outcome).await
    }

    /// The version of a patient's casebook the actor reads: the last
    /// version of any of its records, which a signature names and a later
    /// change moves on.
    pub async fn casebook_version(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<i64, StoreError> {
        let (patient_id, _, _) = self.patient_read_by(actor, patient_id).await?;
        self.version_of_casebook(&patient_id).await
    }

    async fn version_of_casebook(&self, patient_id: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MAX(seq) FROM record_current WHERE patient_id = $1")
                .bind(patient_id)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// A registered patient the actor reads (named as the actor names them:
    /// a pseudonym for a statistician): their id, site and registration's
    /// version. Not found for no patient, a retracted registration or
    /// another site's patient.
    async fn patient_read_by(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<(String, String, i64), StoreError> {
        let patient_id = self.unmask(actor, patient_id).await?;
        let (site, registration): (String, i64) = sqlx::query_as(
            "SELECT site_id, version FROM record_current WHERE tbl = 'patients' AND record_key = $1 AND retracted = 0",
        )
        .bind(&patient_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        if !actor.reads(&site) {
            return Err(StoreError::NotFound);
        }
        Ok((patient_id, site, registration))
    }
}
