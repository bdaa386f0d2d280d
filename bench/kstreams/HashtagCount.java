// HashtagCount is the Kafka Streams contender of the peer benchmarks: the
// counter's job written the way Kafka Streams users would write it. It reads
// the post JSON from the input topic, takes each post's distinct hashtags,
// counts posts per hashtag key in a state store backed by a changelog topic
// and emits every changed count (key: hashtag key, value: 8-byte long) to the
// output topic, with processing.guarantee=exactly_once_v2.
//
// Hashtags: the post's "hashtags" field when present (the source's entities),
// otherwise a simple extraction from the text: '#' or '＃' at the start or
// after a character that is not a letter, digit, mark or '_', followed by
// letters, marks, digits and '_' with at least one letter. That is much
// simpler than the twitter-text rules hashtrend follows (no URL, '&' or
// script-joiner handling); it agrees with them on the synthetic workload,
// which is what is measured. The counting key is the same rule as design.md:
// NFKC of the full Unicode case fold, here ICU4J's UCharacter.foldCase (not
// String.toLowerCase, which differs for e.g. ß and final sigma).
//
// Run: java -cp "lib/*" HashtagCount.java BROKERS INPUT OUTPUT APPLICATION_ID STATE_DIR [THREADS]
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.ibm.icu.lang.UCharacter;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

public class HashtagCount {
  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println("usage: HashtagCount BROKERS INPUT OUTPUT APPLICATION_ID STATE_DIR [THREADS]");
      System.exit(2);
    }
    Properties p = new Properties();
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[3]);
    p.put(StreamsConfig.STATE_DIR_CONFIG, args[4]);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, args.length > 5 ? Integer.parseInt(args[5]) : 2);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    StreamsBuilder b = new StreamsBuilder();
    b.stream(args[1], Consumed.with(Serdes.String(), Serdes.String()))
        .flatMap((id, value) -> {
          List<KeyValue<String, String>> out = new ArrayList<>();
          for (String key : keys(value)) out.add(KeyValue.pair(key, key));
          return out;
        })
        .groupByKey(Grouped.with("by-hashtag", Serdes.String(), Serdes.String()))
        .count(Materialized.as("hashtag-counts"))
        .toStream()
        .to(args[2], Produced.with(Serdes.String(), Serdes.Long()));

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    streams.setUncaughtExceptionHandler(e -> {
      e.printStackTrace();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.NOT_RUNNING || now == KafkaStreams.State.ERROR) done.countDown();
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close();
      done.countDown();
    }));
    streams.start();
    done.await();
  }

  // keys returns the distinct counting keys of one post's JSON; an
  // undecodable value has none (hashtrend sends it to a dead-letter topic).
  static Set<String> keys(String value) {
    Set<String> keys = new LinkedHashSet<>();
    JsonNode post;
    try {
      post = JSON.readTree(value);
    } catch (Exception e) {
      return keys;
    }
    JsonNode tags = post.get("hashtags");
    if (tags != null && tags.isArray()) {
      for (JsonNode t : tags) {
        if (!t.asText().isEmpty()) keys.add(key(t.asText()));
      }
      return keys;
    }
    JsonNode text = post.get("text");
    if (text != null) extract(text.asText(), keys);
    return keys;
  }

  static void extract(String s, Set<String> keys) {
    int n = s.length();
    for (int i = 0; i < n; ) {
      int c = s.codePointAt(i);
      int next = i + Character.charCount(c);
      if ((c == '#' || c == 0xFF03) && (i == 0 || !body(s.codePointBefore(i)))) {
        int j = next;
        boolean letter = false;
        while (j < n) {
          int d = s.codePointAt(j);
          if (!body(d)) break;
          letter |= Character.isLetter(d) || isMark(d);
          j += Character.charCount(d);
        }
        if (letter) keys.add(key(s.substring(next, j)));
        next = Math.max(j, next);
      }
      i = next;
    }
  }

  static boolean isMark(int c) {
    int t = Character.getType(c);
    return t == Character.NON_SPACING_MARK || t == Character.COMBINING_SPACING_MARK || t == Character.ENCLOSING_MARK;
  }

  static boolean body(int c) {
    return Character.isLetter(c) || isMark(c) || Character.isDigit(c) || c == '_';
  }

  // key is design.md's counting key: NFKC(casefold(tag)), repeated until
  // stable as hashtrend's pkg/hashtag does.
  static String key(String tag) {
    for (int i = 0; i < 4; i++) {
      String k = Normalizer.normalize(UCharacter.foldCase(tag, true), Normalizer.Form.NFKC);
      if (k.equals(tag)) return k;
      tag = k;
    }
    return tag;
  }
}
