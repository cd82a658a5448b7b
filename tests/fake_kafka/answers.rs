//! Well-formed answers to the APIs a producer and consumer use beyond the handshake.

use std::time::Duration;

use super::{respond, Reply, Request};

/// A successful Produce response for every partition the request carried.
pub fn produce_ok(req: &Request) -> Reply {
    use kafka_sync::protocol::api::produce::{
        PartitionProduceResponse, ProduceRequest, ProduceResponse, TopicProduceResponse,
    };
    let p: ProduceRequest = req.decode();
    let responses = p
        .topic_data
        .into_iter()
        .map(|t| TopicProduceResponse {
            name: t.name,
            partition_responses: t
                .partition_data
                .into_iter()
                .map(|d| PartitionProduceResponse {
                    index: d.index,
                    base_offset: 0,
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    respond(
        req,
        &ProduceResponse {
            responses,
            ..Default::default()
        },
    )
}

/// A successful InitProducerId response: producer id 1000, epoch 0.
pub fn init_producer_id_ok(req: &Request) -> Reply {
    use kafka_sync::protocol::api::init_producer_id::InitProducerIdResponse;
    respond(
        req,
        &InitProducerIdResponse {
            producer_id: 1000,
            producer_epoch: 0,
            ..Default::default()
        },
    )
}

/// A ListOffsets response giving offset 0 for every partition asked about.
pub fn list_offsets_zero(req: &Request) -> Reply {
    use kafka_sync::protocol::api::list_offsets::{
        ListOffsetsPartitionResponse, ListOffsetsRequest, ListOffsetsResponse,
        ListOffsetsTopicResponse,
    };
    let asked: ListOffsetsRequest = req.decode();
    let topics = asked
        .topics
        .into_iter()
        .map(|t| ListOffsetsTopicResponse {
            name: t.name,
            partitions: t
                .partitions
                .into_iter()
                .map(|p| ListOffsetsPartitionResponse {
                    partition_index: p.partition_index,
                    timestamp: -1,
                    offset: 0,
                    leader_epoch: 0,
                    ..Default::default()
                })
                .collect(),
        })
        .collect();
    respond(
        req,
        &ListOffsetsResponse {
            topics,
            ..Default::default()
        },
    )
}

/// A Fetch response: one record (value `v`) at offset 0 of every partition fetched from
/// offset 0; nothing new (after a 100 ms wait, as a broker's long poll) otherwise.
pub fn fetch_one_record(req: &Request) -> Reply {
    use kafka_sync::protocol::api::fetch::{
        FetchRequest, FetchResponse, FetchableTopicResponse, PartitionData,
    };
    use kafka_sync::protocol::records::RecordBatchBuilder;
    use kafka_sync::Compression;
    let asked: FetchRequest = req.decode();
    let mut anything = false;
    let responses = asked
        .topics
        .into_iter()
        .map(|t| FetchableTopicResponse {
            topic: t.topic,
            topic_id: t.topic_id,
            partitions: t
                .partitions
                .into_iter()
                .map(|p| {
                    let records = (p.fetch_offset == 0).then(|| {
                        let mut b = RecordBatchBuilder::new(1024);
                        b.append(0, None, Some(b"v"), &[]);
                        b.finish(Compression::None, None, -1, -1, -1, false)
                            .unwrap()
                    });
                    anything |= records.is_some();
                    PartitionData {
                        partition_index: p.partition,
                        high_watermark: 1,
                        last_stable_offset: 1,
                        log_start_offset: 0,
                        records,
                        ..Default::default()
                    }
                })
                .collect(),
        })
        .collect();
    let reply = respond(
        req,
        &FetchResponse {
            responses,
            ..Default::default()
        },
    );
    if anything {
        reply
    } else {
        Reply::After(Duration::from_millis(100), Box::new(reply))
    }
}
