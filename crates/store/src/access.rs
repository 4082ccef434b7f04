//! Who may see and change what: roles, and the sites a user's role reaches
//! (REDCap's data access groups).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The roles of the trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users and sites; reads and writes everything.
    Admin,
    /// Site staff: reads and writes their site's patients.
    Investigator,
    /// Site staff, as the investigator.
    StudyNurse,
    /// Reads the sites assigned to them; changes nothing.
    Monitor,
    /// Reads and corrects every site; locks and unlocks the database.
    DataManager,
    /// Reads everything pseudonymized; changes nothing.
    Statistician,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Investigator,
        Role::StudyNurse,
        Role::Monitor,
        Role::DataManager,
        Role::Statistician,
    ];

    /// As stored and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Investigator => "investigator",
            Role::StudyNurse => "study_nurse",
            Role::Monitor => "monitor",
            Role::DataManager => "data_manager",
            Role::Statistician => "statistician",
        }
    }

    /// Site staff belong to exactly one site.
    pub fn is_site_staff(self) -> bool {
        matches!(self, Role::Investigator | Role::StudyNurse)
    }

    /// Whether the role raises data queries by hand (and reopens or
    /// closes them): the monitors, the data managers, the administrator.
    pub fn raises_queries(self) -> bool {
        matches!(self, Role::Monitor | Role::DataManager | Role::Admin)
    }

    /// Whether the role may enter or change trial data at all.
    pub fn can_write(self) -> bool {
        matches!(
            self,
            Role::Admin | Role::Investigator | Role::StudyNurse | Role::DataManager
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!("role must be one of {}, got \"{s}\"", all.join(", "))
            })
    }
}

/// The sites a user reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every site.
    All,
    /// These sites only.
    Sites(Vec<String>),
}

/// A signed-in user, as every store call sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// User name, written into the audit trail.
    pub user: String,
    /// Role.
    pub role: Role,
    /// Sites reached.
    pub scope: Scope,
}

impl Actor {
    /// The command line's own actor for imports and administration.
    pub fn system(user: &str) -> Actor {
        Actor {
            user: user.to_owned(),
            role: Role::Admin,
            scope: Scope::All,
        }
    }

    /// Whether the user may see a patient of `site`.
    pub fn reads(&self, site: &str) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Sites(sites) => sites.iter().any(|s| s == site),
        }
    }

    /// Whether the user may change a patient of `site`.
    pub fn writes(&self, site: &str) -> bool {
        self.role.can_write() && self.reads(site)
    }

    /// Statisticians see pseudonyms instead of patient ids.
    pub fn pseudonymized(&self) -> bool {
        self.role == Role::Statistician
    }
}

/// The SQL condition that keeps the rows whose `column` is a site the
/// actor reads; `None` for every site. It lets a list be cut in the
/// database rather than read whole and filtered. Site ids are identifiers
/// (letters, digits, `-`, `_`, `.`); they are quoted as SQL text all the
/// same.
pub(crate) fn sites_condition(actor: &Actor, column: &str) -> Option<String> {
    match &actor.scope {
        Scope::All => None,
        Scope::Sites(sites) if sites.is_empty() => Some("1 = 0".into()),
        Scope::Sites(sites) => {
            let quoted: Vec<String> = sites
                .iter()
                .map(|s| format!("'{}'", s.replace('\'', "''")))
                .collect();
            Some(format!("{column} IN ({})", quoted.join(", ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_staff_reach_their_site_and_monitors_only_read() {
        let nurse = Actor {
            user: "n".into(),
            role: Role::StudyNurse,
            scope: Scope::Sites(vec!["B".into()]),
        };
        assert!(nurse.reads("B") && nurse.writes("B"));
        assert!(!nurse.reads("A") && !nurse.writes("A"));
        let monitor = Actor {
            user: "m".into(),
            role: Role::Monitor,
            scope: Scope::Sites(vec!["A".into()]),
        };
        assert!(monitor.reads("A") && !monitor.writes("A"));
        let stat = Actor {
            user: "s".into(),
            role: Role::Statistician,
            scope: Scope::All,
        };
        assert!(stat.reads("A") && !stat.writes("A") && stat.pseudonymized());
        assert!("nurse".parse::<Role>().unwrap_err().contains("study_nurse"));
    }
}
