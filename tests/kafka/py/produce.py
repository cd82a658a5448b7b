"""produce.py BOOTSTRAP TOPIC [config=value ...] < records

Sends the records read from stdin (see peer.py) with one KafkaProducer, waits for every
delivery and prints "PARTITION OFFSET" per record, in input order. Defaults: acks=all.
"""
import sys

from kafka import KafkaProducer

import peer


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    cfg = {"acks": "all"}
    cfg.update(peer.configs(sys.argv[3:]))
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), **cfg)
    futures = []
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        part, key, value, headers = line.split(" ")
        futures.append(producer.send(
            topic, key=peer.dec(key), value=peer.dec(value),
            headers=peer.dec_headers(headers),
            partition=None if part == "-" else int(part)))
    producer.flush()
    for f in futures:
        md = f.get(timeout=60)
        print(md.partition, md.offset)
    producer.close(timeout=10)


if __name__ == "__main__":
    main()
