//! A work queue on a share group (KIP-932): several workers read the same partitions,
//! and each job is acknowledged on its own. A job whose value starts with "bad" is
//! rejected (never delivered again); one starting with "retry" is released for another
//! attempt, up to three deliveries; every other job is accepted.
//!
//! Start a few workers with the same group, then produce jobs:
//! `cargo run --example share_consume -- jobs work-queue [127.0.0.1:9092]`
//!
//! The group reads only records produced after it first started, unless its
//! `share.auto.offset.reset` group config is `earliest`.

use std::time::Duration;

use kafka_sync::share_consumer::{
    AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareRecord,
};

/// What to do with one job.
fn decide(job: &ShareRecord) -> AcknowledgeType {
    let value = job.value.as_deref().unwrap_or_default();
    if value.starts_with(b"bad") {
        AcknowledgeType::Reject
    } else if value.starts_with(b"retry") && job.delivery_count < 3 {
        AcknowledgeType::Release
    } else {
        AcknowledgeType::Accept
    }
}

fn main() -> kafka_sync::Result<()> {
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "jobs".into());
    let group = args.next().unwrap_or_else(|| "work-queue".into());
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let mut worker = ShareConsumer::builder()
        .bootstrap_servers(bootstrap)
        .group_id(&group)
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .consumer_timeout(Duration::from_secs(30))
        .acknowledgement_commit_callback(|r| {
            if let Err(e) = &r.result {
                eprintln!(
                    "{}: offsets {:?} not acknowledged: {e}",
                    r.partition, r.offsets
                );
            }
        })
        .build()?;
    worker.subscribe([&topic])?;
    println!("worker in share group {group} on {topic}; stops after 30 s without a job");
    while let Some(job) = worker.iter().next() {
        let job = job?;
        let kind = decide(&job);
        println!(
            "{}-{}@{} delivery {}: {:?} -> {kind:?}",
            job.topic,
            job.partition,
            job.offset,
            job.delivery_count,
            job.value.as_deref().map(String::from_utf8_lossy),
        );
        worker.acknowledge(&job, kind)?;
    }
    worker.close(Duration::from_secs(10));
    Ok(())
}
