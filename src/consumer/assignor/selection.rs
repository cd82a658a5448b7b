//! Choosing the group's assignment strategy and this member's rebalance protocol.

use std::collections::HashMap;

use super::{Assignor, RebalanceProtocol};

/// The strategy the coordinator picks for a group, given each member's strategies in its
/// order of preference (the JoinGroup protocols): only a strategy every member supports
/// qualifies, each member votes for the first qualifying strategy in its list, and the one
/// with most votes wins. `None` if no strategy is common to all members.
///
/// The broker's choice, in the JoinGroup response's `protocol_name`, is authoritative; this
/// mirrors it for planning and tests. Where the broker breaks a tie between equally voted
/// strategies arbitrarily, this picks the one the first member prefers.
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::select_protocol;
///
/// let chosen = select_protocol([
///     vec!["cooperative-sticky", "range"],
///     vec!["range"],
/// ]);
/// assert_eq!(chosen.as_deref(), Some("range"));
/// assert_eq!(select_protocol([vec!["sticky"], vec!["range"]]), None);
/// ```
pub fn select_protocol<M, S>(members: impl IntoIterator<Item = M>) -> Option<String>
where
    M: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let members: Vec<Vec<String>> = members
        .into_iter()
        .map(|m| m.into_iter().map(|s| s.as_ref().to_string()).collect())
        .collect();
    let first = members.first()?;
    let candidates: Vec<&String> = first
        .iter()
        .filter(|p| members.iter().all(|m| m.contains(p)))
        .collect();
    let mut votes: HashMap<&String, usize> = HashMap::new();
    for member in &members {
        if let Some(vote) = member.iter().find(|p| candidates.contains(p)) {
            *votes.entry(vote).or_default() += 1;
        }
    }
    let most = votes.values().copied().max()?;
    candidates
        .into_iter()
        .find(|p| votes.get(p) == Some(&most))
        .cloned()
}

/// The rebalance protocol a member with these assignors uses: the most capable one every
/// assignor supports (cooperative over eager), as the Java consumer decides. `None` if they
/// share none, which is a configuration error.
///
/// # Examples
/// ```
/// use kafka_sync::consumer::assignor::{assignor_for, common_rebalance_protocol, RebalanceProtocol};
///
/// let only_cooperative = [assignor_for("cooperative-sticky").unwrap()];
/// assert_eq!(common_rebalance_protocol(&only_cooperative), Some(RebalanceProtocol::Cooperative));
///
/// // Upgrading from range: both listed, so the member stays eager until range is dropped.
/// let upgrading = [assignor_for("cooperative-sticky").unwrap(), assignor_for("range").unwrap()];
/// assert_eq!(common_rebalance_protocol(&upgrading), Some(RebalanceProtocol::Eager));
/// ```
pub fn common_rebalance_protocol(assignors: &[Box<dyn Assignor>]) -> Option<RebalanceProtocol> {
    let (first, rest) = assignors.split_first()?;
    first
        .supported_protocols()
        .iter()
        .copied()
        .filter(|p| rest.iter().all(|a| a.supported_protocols().contains(p)))
        .max()
}

#[cfg(test)]
mod tests {
    use super::super::assignor_for;
    use super::*;

    #[test]
    fn most_votes_win_among_common_strategies() {
        let chosen = select_protocol([
            vec!["roundrobin", "range"],
            vec!["roundrobin", "range"],
            vec!["range", "roundrobin"],
        ]);
        assert_eq!(chosen.as_deref(), Some("roundrobin"));
    }

    #[test]
    fn uncommon_preferences_fall_through_to_common_ones() {
        let chosen = select_protocol([vec!["sticky", "range"], vec!["roundrobin", "range"]]);
        assert_eq!(chosen.as_deref(), Some("range"));
    }

    #[test]
    fn a_tie_goes_to_the_first_members_preference() {
        let chosen = select_protocol([vec!["range", "sticky"], vec!["sticky", "range"]]);
        assert_eq!(chosen.as_deref(), Some("range"));
    }

    #[test]
    fn no_members_no_protocol() {
        assert_eq!(select_protocol(Vec::<Vec<&str>>::new()), None);
        assert_eq!(common_rebalance_protocol(&[]), None);
    }

    #[test]
    fn eager_assignors_keep_the_member_eager() {
        let all: Vec<Box<dyn Assignor>> = ["range", "sticky"]
            .iter()
            .filter_map(|n| assignor_for(n))
            .collect();
        assert_eq!(
            common_rebalance_protocol(&all),
            Some(RebalanceProtocol::Eager)
        );
    }
}
