//! Kafka's error codes: a newtype over `i16` with each code's name, retriable flag and
//! description. Codes this table does not know keep their number.

use std::fmt;

pub(crate) use super::error_code_table::TABLE;

/// A broker error code.
///
/// # Examples
/// ```
/// use kafka_sync::ErrorCode;
/// let e = ErrorCode(6);
/// assert_eq!(e, ErrorCode::NOT_LEADER_OR_FOLLOWER);
/// assert_eq!(e.name(), "NOT_LEADER_OR_FOLLOWER");
/// assert!(e.is_retriable());
/// assert_eq!(ErrorCode(12345).name(), "UNKNOWN");
/// assert_eq!(ErrorCode(12345).0, 12345);
/// assert_eq!(ErrorCode::NONE.into_result(), Ok(()));
/// assert_eq!(ErrorCode::REQUEST_TIMED_OUT.into_result(), Err(ErrorCode(7)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub i16);

impl ErrorCode {
    fn entry(self) -> Option<&'static (i16, &'static str, bool, &'static str)> {
        TABLE
            .binary_search_by_key(&self.0, |e| e.0)
            .ok()
            .map(|i| &TABLE[i])
    }

    /// True for code 0, no error.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The code's name, as in the Kafka protocol guide, or "UNKNOWN".
    pub fn name(self) -> &'static str {
        self.entry().map_or("UNKNOWN", |e| e.1)
    }

    /// True if the same request may succeed when retried.
    pub fn is_retriable(self) -> bool {
        self.entry().is_some_and(|e| e.2)
    }

    /// What the code means.
    pub fn description(self) -> &'static str {
        self.entry()
            .map_or("An error code this client does not know.", |e| e.3)
    }

    /// `Ok(())` for no error, else `Err(self)`.
    pub fn into_result(self) -> Result<(), ErrorCode> {
        if self.is_ok() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)?;
        match self.description() {
            "" => Ok(()),
            d => write!(f, ": {d}"),
        }
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete_enough() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(TABLE.len() > 120);
        assert!(!ErrorCode::TOPIC_ALREADY_EXISTS.is_retriable());
        assert!(ErrorCode::COORDINATOR_NOT_AVAILABLE.is_retriable());
        assert!(ErrorCode::NOT_ENOUGH_REPLICAS.is_retriable());
        assert!(!ErrorCode::NONE.is_retriable());
        assert_eq!(
            ErrorCode(12345).to_string(),
            "UNKNOWN (12345): An error code this client does not know."
        );
        assert_eq!(ErrorCode(-1).name(), "UNKNOWN_SERVER_ERROR");
    }

    #[test]
    fn known_and_unknown_codes() {
        let e = ErrorCode(6);
        assert_eq!(e.name(), "NOT_LEADER_OR_FOLLOWER");
        assert!(e.is_retriable());
        assert!(e
            .to_string()
            .starts_with("NOT_LEADER_OR_FOLLOWER (6): For requests intended"));
        assert_eq!(format!("{e:?}"), "NOT_LEADER_OR_FOLLOWER(6)");
        let unknown = ErrorCode(12345);
        assert_eq!((unknown.0, unknown.name()), (12345, "UNKNOWN"));
        assert!(!unknown.is_retriable());
        assert_eq!(unknown.into_result(), Err(ErrorCode(12345)));
        assert!(ErrorCode::NONE.is_ok());
        assert_eq!(ErrorCode::NONE.description(), "");
        assert_eq!(ErrorCode::NONE.to_string(), "NONE (0)");
        // Retriable through a superclass: NotEnoughReplicasException extends
        // RetriableException; InvalidMetadataException subclasses too.
        assert!(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.is_retriable());
        assert!(ErrorCode::FENCED_LEADER_EPOCH.is_retriable());
        assert!(!ErrorCode::FENCED_INSTANCE_ID.is_retriable());
        assert!(!ErrorCode::INVALID_PRODUCER_EPOCH.is_retriable());
        assert_eq!(ErrorCode::POSITION_OUT_OF_RANGE, ErrorCode(99));
        assert_eq!(ErrorCode::INVALID_REGULAR_EXPRESSION, ErrorCode(128));
        let err: Box<dyn std::error::Error> = Box::new(ErrorCode::NOT_COORDINATOR);
        assert!(err.to_string().contains("NOT_COORDINATOR (16)"));
    }
}
