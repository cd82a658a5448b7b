// The Java client's side of benches/group_join.rs: the same group, the same timing.
//
//   java -cp "$KAFKA_SYNC_CACHE/kafka-4.3.1/libs/*:<dir of GroupJoin.class>" GroupJoin classic|consumer MEMBERS ROUNDS
//
// MEMBERS - 1 consumers (one thread each, polling every 20 ms) share a topic of
// 2 x MEMBERS partitions; each round one more subscribes and the time to a stable group
// (every member owns partitions, none twice, all owned) is one sample.

import java.time.Duration;
import java.util.*;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class GroupJoin {
    static final class Member {
        final AtomicBoolean stop = new AtomicBoolean();
        volatile Set<TopicPartition> owned = Set.of();
        Thread thread;
    }

    static Member start(String servers, String group, String topic, String protocol) {
        Properties p = new Properties();
        p.put("bootstrap.servers", servers);
        p.put("group.id", group);
        p.put("group.protocol", protocol);
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        if (protocol.equals("classic"))
            p.put("partition.assignment.strategy",
                  "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        Member m = new Member();
        m.thread = new Thread(() -> {
            try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
                c.subscribe(List.of(topic));
                while (!m.stop.get()) {
                    c.poll(Duration.ofMillis(20));
                    m.owned = new HashSet<>(c.assignment());
                }
            }
        });
        m.thread.start();
        return m;
    }

    static boolean stable(List<Member> members, int partitions) {
        Set<TopicPartition> union = new HashSet<>();
        int total = 0;
        for (Member m : members) {
            Set<TopicPartition> s = m.owned;
            if (s.isEmpty()) return false;
            total += s.size();
            union.addAll(s);
        }
        return total == partitions && union.size() == partitions;
    }

    static void waitStable(List<Member> members, int partitions) throws InterruptedException {
        long t0 = System.nanoTime();
        while (!stable(members, partitions)) {
            if (System.nanoTime() - t0 > 120_000_000_000L) throw new IllegalStateException("not stable");
            Thread.sleep(5);
        }
    }

    public static void main(String[] args) throws Exception {
        String protocol = args.length > 0 ? args[0] : "consumer";
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        String servers = System.getenv().getOrDefault("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092");
        String id = ProcessHandle.current().pid() + "-" + protocol + "-" + n;
        String topic = "group-join-java-" + id, group = "group-join-java-" + id;
        int partitions = 2 * n;
        Properties ap = new Properties();
        ap.put("bootstrap.servers", servers);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
        }
        List<Member> members = new ArrayList<>();
        for (int i = 1; i < n; i++) members.add(start(servers, group, topic, protocol));
        waitStable(members, partitions);
        List<Double> samples = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            members.add(start(servers, group, topic, protocol));
            waitStable(members, partitions);
            double ms = (System.nanoTime() - t0) / 1e6;
            System.out.printf("sample: java %s %d members: %.0f ms%n", protocol, n, ms);
            samples.add(ms);
            Member last = members.remove(members.size() - 1);
            last.stop.set(true);
            last.thread.join();
            waitStable(members, partitions);
        }
        Collections.sort(samples);
        System.out.printf("java %s %d members: median %.0f ms to stable after a join (samples %s)%n",
                protocol, n, samples.get(samples.size() / 2), samples);
        for (Member m : members) m.stop.set(true);
        for (Member m : members) m.thread.join();
    }
}
