"""admin.py BOOTSTRAP COMMAND ARGS...

  create-topic NAME PARTITIONS RF [config=value ...]
        creates the topic and waits until every partition has a leader
  delete-topic NAME
  describe-cluster
        "cluster_id ID", "controller ID", then "broker ID HOST PORT" per broker
  describe-topic NAME
        "partition P leader L replicas A,B,C isr A,B" per partition ("-" when empty)
"""
import sys
import time

from kafka.admin import KafkaAdminClient

import peer


def ids(xs):
    return ",".join(str(x) for x in xs) if xs else "-"


def describe_topic(admin, name):
    topics = admin.describe_topics([name])
    out = []
    for t in topics:
        if t.get("error_code", 0) != 0:
            return None
        for p in sorted(t["partitions"], key=lambda p: p["partition_index"]):
            out.append((p["partition_index"], p["leader_id"], p["replica_nodes"], p["isr_nodes"]))
    return out


def describe_cluster(admin):
    try:
        return admin.describe_cluster()
    except KeyError:
        # kafka-python 3.0.12 reads endpoint_type, which DescribeCluster v0 (Kafka 2.8 to
        # 3.6) does not have: ask with a Metadata request, as it does for older brokers.
        async def from_metadata():
            m = await admin._get_cluster_metadata([])
            for b in m["brokers"]:
                b["broker_id"] = b.pop("node_id")
            return m
        return admin._manager.run(from_metadata)


def main():
    bootstrap, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=20000)
    if cmd == "create-topic":
        name, partitions, rf = args[0], int(args[1]), int(args[2])
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": rf,
                                    "configs": {k: str(v) for k, v in peer.configs(args[3:]).items()}}})
        deadline = time.time() + 30
        while True:
            parts = describe_topic(admin, name)
            if parts and len(parts) == partitions and all(p[1] >= 0 for p in parts):
                break
            if time.time() > deadline:
                sys.exit("topic %s has no leader for every partition after 30s: %r" % (name, parts))
            time.sleep(0.2)
    elif cmd == "delete-topic":
        admin.delete_topics([args[0]])
    elif cmd == "describe-cluster":
        c = describe_cluster(admin)
        print("cluster_id", c["cluster_id"])
        print("controller", c["controller_id"])
        for b in sorted(c["brokers"], key=lambda b: b["broker_id"]):
            print("broker", b["broker_id"], b["host"], b["port"])
    elif cmd == "describe-topic":
        parts = describe_topic(admin, args[0])
        if parts is None:
            sys.exit("topic %s not found" % args[0])
        for p, leader, replicas, isr in parts:
            print("partition", p, "leader", leader, "replicas", ids(replicas), "isr", ids(isr))
    else:
        sys.exit("unknown command " + cmd)
    admin.close()


if __name__ == "__main__":
    main()
