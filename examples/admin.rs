//! Topic administration with the AdminClient: create a topic, list and describe topics,
//! see where its partitions live on disk, alter the topic's config, point a consumer
//! group at its beginning, then delete both.
//!
//! ```text
//! cargo run --example admin                    # against 127.0.0.1:9092
//! KAFKA_BOOTSTRAP_SERVERS=host:9092 cargo run --example admin
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_sync::admin::{
    AdminClient, AlterConfigOp, ConfigResource, CreateTopicsOptions, NewTopic, ResetTo,
};
use kafka_sync::ErrorCode;

fn main() -> kafka_sync::Result<()> {
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let admin = AdminClient::builder()
        .bootstrap_servers(&bootstrap)
        .client_id("admin-example")
        .default_api_timeout(Duration::from_secs(30))
        .build()?;

    let cluster = admin.describe_cluster()?;
    println!(
        "cluster {} with {} broker(s), controller {:?}",
        cluster.cluster_id.as_deref().unwrap_or("?"),
        cluster.brokers.len(),
        cluster.controller_id
    );

    // Create: 3 partitions, one replica each, with a retention of one hour.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let topic = format!("admin-example-{nanos}");
    let new_topic = NewTopic::new(&topic, 3, 1).config("retention.ms", "3600000");
    for (name, result) in admin.create_topics(&[new_topic], CreateTopicsOptions::default())? {
        match result {
            Ok(()) => println!("created {name}"),
            Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {
                println!("{name} already exists")
            }
            Err(e) => return Err(e),
        }
    }

    // List and describe.
    let topics = admin.list_topics()?;
    println!(
        "{} topic(s), ours listed: {}",
        topics.len(),
        topics.contains(&topic)
    );
    for description in admin.describe_topics(&[&topic])? {
        for p in &description.partitions {
            println!(
                "  {}-{}: leader {:?}, replicas {:?}, isr {:?}",
                description.name, p.partition, p.leader, p.replicas, p.isr
            );
        }
    }

    // Where the partitions live on disk.
    for (broker, dirs) in admin.describe_log_dirs(None)? {
        for dir in dirs? {
            let ours = dir.replicas.keys().filter(|tp| tp.topic == topic).count();
            println!(
                "broker {broker}: {} holds {ours} of its partitions",
                dir.path
            );
        }
    }

    // Alter the config, then read it back.
    let resource = ConfigResource::topic(&topic);
    let changes = BTreeMap::from([(
        resource.clone(),
        vec![
            AlterConfigOp::set("retention.ms", "7200000"),
            AlterConfigOp::set("cleanup.policy", "compact"),
        ],
    )]);
    for (resource, result) in admin.incremental_alter_configs(&changes, false)? {
        result?;
        println!("altered {resource}");
    }
    let configs = admin.describe_configs(std::slice::from_ref(&resource))?;
    let entries = configs[&resource].clone()?;
    for entry in entries.iter().filter(|e| !e.is_default) {
        println!(
            "  {} = {}",
            entry.name,
            entry.value.as_deref().unwrap_or("(hidden)")
        );
    }

    // Point a group without members at the topic's beginning, as
    // `kafka-consumer-groups.sh --reset-offsets --to-earliest --execute` does.
    let group = format!("{topic}-readers");
    let topics = [topic.as_str()];
    for (tp, offset) in
        admin.reset_consumer_group_offsets(&group, Some(&topics), ResetTo::Earliest)?
    {
        println!("{group} starts {tp} at offset {}", offset?);
    }
    admin.delete_consumer_groups(&[&group])?[&group].clone()?;

    // Delete.
    for (name, result) in admin.delete_topics(&[&topic], None)? {
        result?;
        println!("deleted {name}");
    }
    admin.close(std::time::Duration::from_secs(5));
    Ok(())
}
