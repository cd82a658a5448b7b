"""consume.py BOOTSTRAP TOPIC COUNT [config=value ...]

Reads COUNT records from the beginning of TOPIC (every partition) and prints them as
lines (see peer.py). Without group_id it assigns the partitions itself. Stops after
consumer_timeout_ms (default 10000) without records; exits 3 if fewer than COUNT came.
"""
import sys

from kafka import KafkaConsumer, TopicPartition

import peer


def main():
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = {"auto_offset_reset": "earliest", "consumer_timeout_ms": 10000,
           "enable_auto_commit": False}
    cfg.update(peer.configs(sys.argv[4:]))
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), **cfg)
    if cfg.get("group_id"):
        consumer.subscribe([topic])
    else:
        parts = None
        for _ in range(50):
            parts = consumer.partitions_for_topic(topic)
            if parts:
                break
            consumer.poll(timeout_ms=200)
        if not parts:
            sys.exit("topic %s has no partitions" % topic)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
    got = 0
    for msg in consumer:
        print(msg.partition, msg.offset, msg.timestamp, peer.enc(msg.key), peer.enc(msg.value),
              peer.enc_headers(msg.headers))
        got += 1
        if got >= count:
            break
    if cfg.get("group_id"):
        consumer.commit()
    consumer.close()
    if got < count:
        sys.stdout.flush()
        sys.exit(3)


if __name__ == "__main__":
    main()
