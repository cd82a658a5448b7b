//! Non-incremental `alter_configs` against the real broker: the given set replaces every
//! dynamic config of the resource, unlike `incremental_alter_configs`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_sync::admin::{
    AdminClient, AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource, CreateTopicsOptions,
    NewTopic,
};
use kafka_sync::ErrorCode;

fn admin() -> AdminClient {
    AdminClient::builder()
        .bootstrap_servers(common::bootstrap())
        .client_id("kafka-sync-admin-configs-test")
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .expect("admin client")
}

/// The topic's configs set on the topic itself, by name.
fn topic_configs(admin: &AdminClient, r: &ConfigResource) -> BTreeMap<String, ConfigEntry> {
    let all = admin.describe_configs(std::slice::from_ref(r)).unwrap();
    all[r]
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect()
}

fn set_on_topic(configs: &BTreeMap<String, ConfigEntry>) -> BTreeMap<&str, &str> {
    configs
        .values()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or_default()))
        .collect()
}

/// The topic's configs once exactly `want` are set on the topic: a change reaches the
/// broker that answers DescribeConfigs a moment after the controller committed it.
fn configs_when(
    admin: &AdminClient,
    r: &ConfigResource,
    want: &[(&str, &str)],
) -> BTreeMap<String, ConfigEntry> {
    let want: BTreeMap<&str, &str> = want.iter().copied().collect();
    common::retry(
        "configs applied",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let configs = topic_configs(admin, r);
            if set_on_topic(&configs) == want {
                Ok(configs)
            } else {
                Err(format!("{:?}", set_on_topic(&configs)))
            }
        },
    )
}

fn whole(
    r: &ConfigResource,
    set: &[(&str, &str)],
) -> BTreeMap<ConfigResource, BTreeMap<String, String>> {
    let set = set
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    BTreeMap::from([(r.clone(), set)])
}

#[test]
fn alter_configs_replaces_the_whole_set() {
    let admin = admin();
    let topic = common::unique_name("admin-replace-configs");
    let new = NewTopic::new(&topic, 1, 1)
        .config("cleanup.policy", "compact")
        .config("retention.ms", "100000");
    admin
        .create_topics(&[new], CreateTopicsOptions::default())
        .unwrap()[&topic]
        .clone()
        .unwrap();
    let r = ConfigResource::topic(&topic);

    // Incremental: only the named config changes.
    let incremental =
        BTreeMap::from([(r.clone(), vec![AlterConfigOp::set("segment.ms", "600000")])]);
    admin
        .incremental_alter_configs(&incremental, false)
        .unwrap()[&r]
        .clone()
        .unwrap();
    let three = [
        ("cleanup.policy", "compact"),
        ("retention.ms", "100000"),
        ("segment.ms", "600000"),
    ];
    configs_when(&admin, &r, &three);

    // Validate only: a bad value is refused, a good one is not applied.
    let bad = whole(&r, &[("retention.ms", "not-a-number")]);
    let results = admin.alter_configs(&bad, true).unwrap();
    assert_eq!(
        results[&r].as_ref().unwrap_err().code(),
        Some(ErrorCode::INVALID_CONFIG),
        "{results:?}"
    );
    let dry = whole(&r, &[("retention.ms", "200000")]);
    admin.alter_configs(&dry, true).unwrap()[&r]
        .clone()
        .unwrap();
    configs_when(&admin, &r, &three);

    // Whole set: retention.ms alone is left; the others are back at their defaults.
    admin.alter_configs(&dry, false).unwrap()[&r]
        .clone()
        .unwrap();
    let configs = configs_when(&admin, &r, &[("retention.ms", "200000")]);
    let policy = &configs["cleanup.policy"];
    assert!(policy.is_default, "{policy:?}");
    assert_eq!(policy.value.as_deref(), Some("delete"));

    // An empty set clears every topic config; a missing topic fails on its own.
    let missing = ConfigResource::topic(common::unique_name("admin-replace-none"));
    let mut both = whole(&r, &[]);
    both.extend(whole(&missing, &[("retention.ms", "1")]));
    let results = admin.alter_configs(&both, false).unwrap();
    results[&r].clone().unwrap();
    assert_eq!(
        results[&missing].as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    configs_when(&admin, &r, &[]);
    admin.delete_topics(&[&topic], None).unwrap();
}
