"""The benchmark driver for kafka-python, with the same command line and JSON report as
the Rust drivers in src/bin (see src/lib.rs). Run it with the kafka-python virtualenv:
`tests/kafka/broker python benches/peers/kafka_python_bench.py produce ...`.

Setting mapping: acks → acks (1 or 'all'), --idempotence → enable_idempotence,
--compression → compression_type, --linger-ms → linger_ms, --batch-size → batch_size.
Consumers: assign + seek_to_beginning, check_crcs=True, fetch_min_bytes=1,
fetch_max_wait_ms=500, fetch_max_bytes, max_partition_fetch_bytes.
"""

import argparse
import json
import sys
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

CLIENT = "kafka-python"
STALL_TIMEOUT_MS = 30_000


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["produce", "consume", "latency"])
    p.add_argument("--bootstrap", default="127.0.0.1:9092")
    p.add_argument("--topic", required=True)
    p.add_argument("--records", type=float, required=True)
    p.add_argument("--payload")
    p.add_argument("--acks", default="1", choices=["1", "all"])
    p.add_argument("--idempotence", action="store_true")
    p.add_argument("--compression", default="none")
    p.add_argument("--linger-ms", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=65536)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--fetch-max-bytes", type=int, default=52428800)
    p.add_argument("--max-partition-fetch-bytes", type=int, default=1048576)
    p.add_argument("--config", action="append", default=[])
    a = p.parse_args()
    a.records = int(a.records)
    if a.mode != "consume" and not a.payload:
        p.error("--payload is required")
    if a.mode == "latency" and a.rate <= 0:
        p.error("latency needs --rate")
    return a


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def stalled(n, want):
    fail(f"timeout: no record for {STALL_TIMEOUT_MS // 1000} s, {n} of {want} records arrived")


def payloads(a):
    with open(a.payload, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l]
    if not lines:
        fail(f"{a.payload} holds no payload lines")
    return lines


def producer(a):
    return KafkaProducer(
        bootstrap_servers=a.bootstrap,
        acks=1 if a.acks == "1" else "all",
        enable_idempotence=a.idempotence,
        compression_type=None if a.compression == "none" else a.compression,
        linger_ms=a.linger_ms,
        batch_size=a.batch_size,
    )


def consumer(a, from_end):
    c = KafkaConsumer(
        bootstrap_servers=a.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        check_crcs=True,
        fetch_min_bytes=1,
        fetch_max_wait_ms=500,
        fetch_max_bytes=a.fetch_max_bytes,
        max_partition_fetch_bytes=a.max_partition_fetch_bytes,
        consumer_timeout_ms=STALL_TIMEOUT_MS,
    )
    parts = None
    deadline = time.monotonic() + 30
    while not parts and time.monotonic() < deadline:
        c.topics()  # refreshes metadata; a just-created topic may take a moment
        parts = c.partitions_for_topic(a.topic)
    if not parts:
        fail(f"no topic {a.topic}")
    tps = [TopicPartition(a.topic, p) for p in sorted(parts)]
    c.assign(tps)
    if from_end:
        c.seek_to_end(*tps)
        for tp in tps:
            c.position(tp)  # resolves the end offsets before anything is produced
    else:
        c.seek_to_beginning(*tps)
    return c


class Pacer:
    def __init__(self, rate):
        self.rate = rate
        self.start = time.monotonic()
        self.start_wall_ns = time.time_ns()

    def wait(self, i):
        if self.rate <= 0:
            return time.time_ns()
        offset = i / self.rate
        delay = self.start + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        return self.start_wall_ns + int(offset * 1e9)


def report(mode, records, nbytes, elapsed, errors, latencies=None):
    lat = None
    if latencies is not None:
        latencies.sort()
        n = len(latencies)

        def pct(p):
            return latencies[min(n, max(1, int(-(-n * p // 1)))) - 1] / 1000.0

        lat = {"p50": pct(0.5), "p99": pct(0.99), "p999": pct(0.999), "max": latencies[-1] / 1000.0}
    elapsed = max(elapsed, 1e-9)
    print(json.dumps({
        "client": CLIENT, "mode": mode, "records": records, "bytes": nbytes,
        "elapsed_s": elapsed, "msgs_per_s": records / elapsed, "mb_per_s": nbytes / elapsed / 1e6,
        "errors": errors, "latency_us": lat,
    }))
    if errors:
        fail(f"{errors} records failed")


def produce(a):
    values = payloads(a)
    p = producer(a)
    errors = [0]

    def errback(_e):
        errors[0] += 1

    pacer = Pacer(a.rate)
    start = time.monotonic()
    nbytes = 0
    for i in range(a.records):
        pacer.wait(i)
        v = values[i % len(values)]
        nbytes += len(v)
        p.send(a.topic, value=v).add_errback(errback)
    p.flush()
    elapsed = time.monotonic() - start
    p.close()
    report("produce", a.records, nbytes, elapsed, errors[0])


def consume(a):
    c = consumer(a, from_end=False)
    start = time.monotonic()
    n = nbytes = 0
    for msg in c:
        nbytes += len(msg.value)
        n += 1
        if n == a.records:
            break
    elapsed = time.monotonic() - start
    if n < a.records:
        stalled(n, a.records)
    report("consume", n, nbytes, elapsed, 0)


def latency(a):
    values = payloads(a)
    c = consumer(a, from_end=True)
    latencies = []

    def read():
        for msg in c:
            latencies.append(time.time_ns() - int.from_bytes(msg.value[:8], "little"))
            if len(latencies) == a.records:
                break

    reader = threading.Thread(target=read)
    reader.start()
    p = producer(a)
    errors = [0]

    def errback(_e):
        errors[0] += 1

    pacer = Pacer(a.rate)
    start = time.monotonic()
    nbytes = 0
    for i in range(a.records):
        stamp = pacer.wait(i)
        v = stamp.to_bytes(8, "little") + values[i % len(values)][8:]
        nbytes += len(v)
        p.send(a.topic, value=v).add_errback(errback)
    p.flush()
    reader.join()
    elapsed = time.monotonic() - start
    if len(latencies) < a.records:
        stalled(len(latencies), a.records)
    report("latency", a.records, nbytes, elapsed, errors[0], latencies)


if __name__ == "__main__":
    args = parse()
    if args.config:
        # The secured workloads compare the compiled clients; exit 3 is "cannot run this".
        print("kafka-python: --config (TLS/SASL workloads) is not mapped", file=sys.stderr)
        sys.exit(3)
    {"produce": produce, "consume": consume, "latency": latency}[args.mode](args)
