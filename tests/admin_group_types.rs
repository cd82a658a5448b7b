//! Consumer groups of either protocol through the AdminClient, against the real broker:
//! a group of the Java console consumer with `group.protocol=consumer` (KIP-848) is
//! listed with type `consumer` and described with its member and assignment, next to a
//! classic group.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use kafka_sync::admin::{
    AdminClient, CreateTopicsOptions, GroupDescription, ListConsumerGroupsOptions, NewTopic,
    ResetTo,
};
use kafka_sync::{ErrorCode, OffsetAndMetadata, Producer, ProducerRecord, TopicPartition};

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .client_id("kafka-sync-admin-group-types-test")
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .expect("admin client")
}

/// The Java console consumer in the given group protocol, reading `topic` as `group`.
fn java_member(topic: &str, group: &str, protocol: &str, client_id: &str) -> common::Background {
    let mut cmd = Command::new(common::repo_root().join("tests/kafka/broker"));
    cmd.args(["tool", "console-consumer"])
        .args(["--bootstrap-server", &common::bootstrap()])
        .args(["--topic", topic, "--group", group, "--from-beginning"])
        .args(["--timeout-ms", "90000"]);
    for property in [
        format!("group.protocol={protocol}"),
        format!("client.id={client_id}"),
    ] {
        cmd.args(["--consumer-property", &property]);
    }
    common::Background::spawn(cmd)
}

/// The group's description once it is stable with one member that owns both partitions.
fn stable(admin: &AdminClient, group: &str, member: &common::Background) -> GroupDescription {
    common::retry(
        "a stable group with one member owning both partitions",
        Duration::from_secs(60),
        Duration::from_millis(300),
        || {
            let d = admin
                .describe_consumer_groups(&[group])
                .map_err(|e| e.to_string())?;
            let d = d[group]
                .clone()
                .map_err(|e| format!("{e}; member: {}", member.stderr_tail()))?;
            let owns_all = d.members.len() == 1 && d.members[0].assignment.len() == 2;
            if d.state == "Stable" && owns_all {
                Ok(d)
            } else {
                Err(format!("{d:?}; member: {}", member.stderr_tail()))
            }
        },
    )
}

#[test]
fn lists_and_describes_groups_of_both_protocols() {
    let admin = admin();
    let topic = common::unique_name("admin-gtypes");
    admin
        .create_topics(
            &[NewTopic::new(&topic, 2, 1)],
            CreateTopicsOptions::default(),
        )
        .unwrap()[&topic]
        .clone()
        .unwrap();
    let producer = Producer::builder()
        .bootstrap_servers(common::bootstrap())
        .build()
        .unwrap();
    for p in 0..2 {
        producer
            .send(ProducerRecord::new(topic.as_str()).partition(p).value("v"))
            .unwrap()
            .wait()
            .unwrap();
    }
    let [modern, classic] =
        ["consumer", "classic"].map(|p| common::unique_name(&format!("admin-{p}")));
    let modern_member = java_member(&topic, &modern, "consumer", "kip848-member");
    let classic_member = java_member(&topic, &classic, "classic", "classic-member");

    let m = stable(&admin, &modern, &modern_member);
    let c = stable(&admin, &classic, &classic_member);
    let mut want = vec![
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ];
    want.sort();
    for (d, client, group_type) in [
        (&m, "kip848-member", "consumer"),
        (&c, "classic-member", "classic"),
    ] {
        assert_eq!(d.group_type.as_deref(), Some(group_type), "{d:?}");
        assert_eq!(d.protocol_type, "consumer", "{d:?}");
        let member = &d.members[0];
        assert_eq!(member.client_id, client, "{d:?}");
        assert!(
            !member.member_id.is_empty() && !member.host.is_empty(),
            "{d:?}"
        );
        let mut got = member.assignment.clone();
        got.sort();
        assert_eq!(got, want, "{d:?}");
    }
    // The broker's assignor for the new protocol, the client's for the classic one.
    assert!(["uniform", "range"].contains(&m.protocol.as_str()), "{m:?}");
    assert!(
        m.group_epoch.is_some() && c.group_epoch.is_none(),
        "{m:?} {c:?}"
    );
    assert_eq!(
        m.members[0].target_assignment.as_ref().map(Vec::len),
        Some(2)
    );

    let listed = admin.list_consumer_groups().unwrap();
    let find = |g: &str| listed.iter().find(|l| l.group_id == g).cloned();
    let lm = find(&modern).unwrap_or_else(|| panic!("{modern} not in {listed:?}"));
    let lc = find(&classic).unwrap_or_else(|| panic!("{classic} not in {listed:?}"));
    assert_eq!(
        (lm.group_type.as_deref(), lm.state.as_deref()),
        (Some("consumer"), Some("Stable"))
    );
    assert_eq!(
        (lc.group_type.as_deref(), lc.state.as_deref()),
        (Some("classic"), Some("Stable"))
    );

    // The type filter (ListGroups v5).
    let only_modern = admin
        .list_consumer_groups_with(ListConsumerGroupsOptions {
            types: vec!["consumer".into()],
            ..Default::default()
        })
        .unwrap();
    assert!(
        only_modern.iter().any(|g| g.group_id == modern),
        "{only_modern:?}"
    );
    assert!(
        only_modern
            .iter()
            .all(|g| g.group_type.as_deref() == Some("consumer")),
        "{only_modern:?}"
    );
    let stable_classic = admin
        .list_consumer_groups_with(ListConsumerGroupsOptions {
            types: vec!["classic".into()],
            states: vec!["Stable".into()],
        })
        .unwrap();
    assert!(
        stable_classic.iter().any(|g| g.group_id == classic),
        "{stable_classic:?}"
    );
    assert!(
        !stable_classic.iter().any(|g| g.group_id == modern),
        "{stable_classic:?}"
    );

    // Neither group's offsets can be reset or altered while it has a member.
    let tp0 = TopicPartition::new(&topic, 0);
    let to_zero = BTreeMap::from([(tp0.clone(), OffsetAndMetadata::new(0))]);
    for group in [&modern, &classic] {
        let e = admin
            .reset_consumer_group_offsets(group, Some(&[topic.as_str()]), ResetTo::Earliest)
            .unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::NON_EMPTY_GROUP), "{group}: {e}");
        let altered = admin.alter_consumer_group_offsets(group, &to_zero).unwrap();
        assert_eq!(
            altered[&tp0].as_ref().unwrap_err().code(),
            Some(ErrorCode::UNKNOWN_MEMBER_ID),
            "{group}: {altered:?}"
        );
    }

    // A group that does not exist is still reported as such.
    let missing = common::unique_name("admin-gtypes-none");
    match &admin.describe_consumer_groups(&[&missing]).unwrap()[&missing] {
        Ok(d) => assert_eq!(d.state, "Dead", "{d:?}"),
        Err(e) => assert_eq!(e.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{e}"),
    }
    drop(modern_member);
    drop(classic_member);
    admin.delete_topics(&[&topic], None).unwrap();
}
