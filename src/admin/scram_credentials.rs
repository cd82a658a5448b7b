//! Describing and altering users' SCRAM credentials (KIP-554: DescribeUserScramCredentials,
//! AlterUserScramCredentials). An upsertion never sends the password: the client salts
//! it (PBKDF2, the SCRAM `Hi()` function) and sends the salt and the salted password.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::net::rpc::Target;
use crate::net::sasl::scram::{random_bytes, ScramHash, MAX_ITERATIONS, MIN_ITERATIONS};
use crate::protocol::api::alter_user_scram_credentials::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ScramCredentialDeletion,
    ScramCredentialUpsertion,
};
use crate::protocol::api::describe_user_scram_credentials::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, UserName,
};
use crate::protocol::error_code::ErrorCode;

use super::AdminClient;

/// A SCRAM mechanism, as the credential calls name it.
///
/// # Examples
/// ```
/// use kafka_sync::admin::ScramMechanism;
/// assert_eq!(ScramMechanism::from_i8(2), ScramMechanism::ScramSha512);
/// assert_eq!(ScramMechanism::ScramSha256.mechanism_name(), "SCRAM-SHA-256");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ScramMechanism {
    /// A mechanism this client does not know.
    Unknown,
    /// SCRAM-SHA-256.
    ScramSha256,
    /// SCRAM-SHA-512.
    ScramSha512,
}

impl ScramMechanism {
    /// The protocol's code.
    pub fn as_i8(self) -> i8 {
        match self {
            ScramMechanism::Unknown => 0,
            ScramMechanism::ScramSha256 => 1,
            ScramMechanism::ScramSha512 => 2,
        }
    }

    /// The mechanism of a protocol code.
    pub fn from_i8(code: i8) -> ScramMechanism {
        match code {
            1 => ScramMechanism::ScramSha256,
            2 => ScramMechanism::ScramSha512,
            _ => ScramMechanism::Unknown,
        }
    }

    /// The SASL mechanism name.
    pub fn mechanism_name(self) -> &'static str {
        match self {
            ScramMechanism::Unknown => "UNKNOWN",
            ScramMechanism::ScramSha256 => "SCRAM-SHA-256",
            ScramMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    fn hash(self) -> Option<ScramHash> {
        match self {
            ScramMechanism::ScramSha256 => Some(ScramHash::Sha256),
            ScramMechanism::ScramSha512 => Some(ScramHash::Sha512),
            ScramMechanism::Unknown => None,
        }
    }
}

/// One SCRAM credential of a user: its mechanism and iteration count (the broker never
/// hands out the salt or the keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScramCredentialInfo {
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// The PBKDF2 iteration count.
    pub iterations: i32,
}

/// A change to a user's SCRAM credentials.
///
/// # Examples
/// ```
/// use kafka_sync::admin::{ScramMechanism, UserScramCredentialAlteration};
/// let add = UserScramCredentialAlteration::upsert("bob", ScramMechanism::ScramSha512, "bob-secret")
///     .iterations(8192);
/// let remove = UserScramCredentialAlteration::delete("carol", ScramMechanism::ScramSha256);
/// assert_eq!(add.user(), "bob");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserScramCredentialAlteration {
    /// Creates or replaces the user's credential for the mechanism.
    Upsertion {
        /// The user name.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
        /// PBKDF2 iterations, 4096 to 16384 (Kafka's bounds).
        iterations: u32,
        /// The password; only its salted form leaves the client.
        password: String,
    },
    /// Removes the user's credential for the mechanism.
    Deletion {
        /// The user name.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
    },
}

impl std::fmt::Debug for UserScramCredentialAlteration {
    // The password is a credential: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserScramCredentialAlteration::Upsertion {
                user,
                mechanism,
                iterations,
                ..
            } => f
                .debug_struct("Upsertion")
                .field("user", user)
                .field("mechanism", mechanism)
                .field("iterations", iterations)
                .finish_non_exhaustive(),
            UserScramCredentialAlteration::Deletion { user, mechanism } => f
                .debug_struct("Deletion")
                .field("user", user)
                .field("mechanism", mechanism)
                .finish(),
        }
    }
}

impl UserScramCredentialAlteration {
    /// Creates or replaces `user`'s credential with 4096 iterations (Kafka's minimum and
    /// the `kafka-configs` default).
    pub fn upsert(
        user: impl Into<String>,
        mechanism: ScramMechanism,
        password: impl Into<String>,
    ) -> Self {
        UserScramCredentialAlteration::Upsertion {
            user: user.into(),
            mechanism,
            iterations: MIN_ITERATIONS,
            password: password.into(),
        }
    }

    /// Removes `user`'s credential for `mechanism`.
    pub fn delete(user: impl Into<String>, mechanism: ScramMechanism) -> Self {
        UserScramCredentialAlteration::Deletion {
            user: user.into(),
            mechanism,
        }
    }

    /// Sets an upsertion's iteration count; no effect on a deletion.
    pub fn iterations(mut self, n: u32) -> Self {
        if let UserScramCredentialAlteration::Upsertion { iterations, .. } = &mut self {
            *iterations = n;
        }
        self
    }

    /// The user it changes.
    pub fn user(&self) -> &str {
        match self {
            UserScramCredentialAlteration::Upsertion { user, .. }
            | UserScramCredentialAlteration::Deletion { user, .. } => user,
        }
    }
}

/// The request for `alterations`; an upsertion that cannot be sent is an argument error.
fn alter_request(
    alterations: &[UserScramCredentialAlteration],
) -> Result<AlterUserScramCredentialsRequest> {
    let mut req = AlterUserScramCredentialsRequest::default();
    for a in alterations {
        match a {
            UserScramCredentialAlteration::Upsertion {
                user,
                mechanism,
                iterations,
                password,
            } => {
                let hash = mechanism.hash().ok_or_else(|| {
                    Error::InvalidArgument(format!("unknown SCRAM mechanism for user {user}"))
                })?;
                if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(iterations) {
                    return Err(Error::InvalidArgument(format!(
                        "{iterations} SCRAM iterations for user {user}: Kafka accepts \
                         {MIN_ITERATIONS} to {MAX_ITERATIONS}"
                    )));
                }
                let salt = random_bytes(32).map_err(|e| Error::Internal(e.to_string()))?;
                let salted = hash.salted_password(password.as_bytes(), &salt, *iterations);
                req.upsertions.push(ScramCredentialUpsertion {
                    name: user.clone(),
                    mechanism: mechanism.as_i8(),
                    iterations: *iterations as i32,
                    salt: Bytes::from(salt),
                    salted_password: Bytes::from(salted),
                });
            }
            UserScramCredentialAlteration::Deletion { user, mechanism } => {
                req.deletions.push(ScramCredentialDeletion {
                    name: user.clone(),
                    mechanism: mechanism.as_i8(),
                })
            }
        }
    }
    Ok(req)
}

/// A user's result: a refusal names the cluster operation.
fn user_result(code: i16, message: Option<String>, operation: &str) -> Result<()> {
    match code {
        0 => Ok(()),
        code => Err(Error::for_resource(ErrorCode(code), message, operation)),
    }
}

impl AdminClient {
    /// The SCRAM credentials of `users` (every user that has one, for an empty slice),
    /// as the Java admin's `describeUserScramCredentials`. Each user maps to its
    /// credentials, or its error (`RESOURCE_NOT_FOUND` for a user without any).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// for (user, creds) in admin.describe_user_scram_credentials(&["alice"])? {
    ///     for c in creds? {
    ///         println!("{user}: {} with {} iterations", c.mechanism.mechanism_name(), c.iterations);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn describe_user_scram_credentials(
        &self,
        users: &[&str],
    ) -> Result<BTreeMap<String, Result<Vec<ScramCredentialInfo>>>> {
        let deadline = self.deadline(None);
        let make = || DescribeUserScramCredentialsRequest {
            users: (!users.is_empty()).then(|| {
                users
                    .iter()
                    .map(|u| UserName {
                        name: (*u).to_owned(),
                    })
                    .collect()
            }),
        };
        let (_, resp): (_, DescribeUserScramCredentialsResponse) = self.call(
            Target::Any,
            make,
            None,
            deadline,
            "a DescribeUserScramCredentials response",
        )?;
        user_result(
            resp.error_code,
            resp.error_message,
            "describe SCRAM credentials",
        )?;
        Ok(resp
            .results
            .into_iter()
            .map(|r| {
                let infos =
                    user_result(r.error_code, r.error_message, "describe SCRAM credentials").map(
                        |()| {
                            r.credential_infos
                                .iter()
                                .map(|c| ScramCredentialInfo {
                                    mechanism: ScramMechanism::from_i8(c.mechanism),
                                    iterations: c.iterations,
                                })
                                .collect()
                        },
                    );
                (r.user, infos)
            })
            .collect())
    }

    /// Creates, replaces or removes users' SCRAM credentials. Each user named maps to
    /// `Ok(())` or its error (`RESOURCE_NOT_FOUND` deleting a credential that does not
    /// exist, `ClusterAuthorization` without ALTER on the cluster).
    ///
    /// # Examples
    /// ```no_run
    /// # fn main() -> kafka_sync::Result<()> {
    /// use kafka_sync::admin::{ScramMechanism, UserScramCredentialAlteration};
    /// let admin = kafka_sync::admin::AdminClient::builder().build()?;
    /// let add = UserScramCredentialAlteration::upsert("bob", ScramMechanism::ScramSha512, "bob-secret");
    /// for (user, result) in admin.alter_user_scram_credentials(&[add])? {
    ///     result?;
    ///     println!("{user} can log in with SCRAM-SHA-512");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn alter_user_scram_credentials(
        &self,
        alterations: &[UserScramCredentialAlteration],
    ) -> Result<BTreeMap<String, Result<()>>> {
        if alterations.is_empty() {
            return Ok(BTreeMap::new());
        }
        // Salted once: a retry resends the same credential.
        let req = alter_request(alterations)?;
        let deadline = self.deadline(None);
        let (_, resp): (_, AlterUserScramCredentialsResponse) = self.call(
            Target::Any,
            || req.clone(),
            None,
            deadline,
            "an AlterUserScramCredentials response",
        )?;
        Ok(resp
            .results
            .into_iter()
            .map(|r| {
                let result = user_result(r.error_code, r.error_message, "alter SCRAM credentials");
                (r.user, result)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsertions_send_a_fresh_salt_and_the_salted_password() {
        let req = alter_request(&[
            UserScramCredentialAlteration::upsert("bob", ScramMechanism::ScramSha512, "pw")
                .iterations(8192),
            UserScramCredentialAlteration::delete("carol", ScramMechanism::ScramSha256),
        ])
        .unwrap();
        let u = &req.upsertions[0];
        assert_eq!(
            (u.name.as_str(), u.mechanism, u.iterations),
            ("bob", 2, 8192)
        );
        assert_eq!(u.salt.len(), 32);
        let expected = ScramHash::Sha512.salted_password(b"pw", &u.salt, 8192);
        assert_eq!(&u.salted_password[..], &expected[..]);
        assert_eq!(req.deletions[0].name, "carol");
        assert_eq!(req.deletions[0].mechanism, 1);
        let again = alter_request(&[UserScramCredentialAlteration::upsert(
            "bob",
            ScramMechanism::ScramSha512,
            "pw",
        )])
        .unwrap();
        assert_ne!(again.upsertions[0].salt, u.salt);
    }

    #[test]
    fn iteration_counts_outside_kafkas_bounds_are_argument_errors() {
        for n in [4095, 16385] {
            let a = UserScramCredentialAlteration::upsert("b", ScramMechanism::ScramSha256, "p")
                .iterations(n);
            assert!(matches!(
                alter_request(&[a]),
                Err(Error::InvalidArgument(_))
            ));
        }
        let a = UserScramCredentialAlteration::upsert("b", ScramMechanism::Unknown, "p");
        assert!(matches!(
            alter_request(&[a]),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn debug_hides_the_password() {
        let a = UserScramCredentialAlteration::upsert("b", ScramMechanism::ScramSha256, "hunter2");
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
