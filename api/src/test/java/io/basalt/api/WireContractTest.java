package io.basalt.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.Message;
import com.google.protobuf.UnknownFieldSet;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Field numbers, types and names and enum values are a wire contract: they are on disk and on the
 * wire between versions. This test renders every message and enum of every .proto file of this
 * module (nested ones included) and compares the rendering with the golden listing {@value
 * #GOLDEN}, so any renumbering, retyping, renaming or removal fails the build with a diff. A
 * deliberate change (a new field) is recorded by regenerating the listing with {@code
 * -Dbasalt.wire.regenerate=true} and committing the reviewed diff of the listing.
 */
class WireContractTest {
  private static final String GOLDEN = "wire-contract.txt";
  private static final Path GOLDEN_SOURCE = Path.of("src/test/resources", GOLDEN);
  private static final Path PROTO_SOURCES = Path.of("src/main/proto");
  private static final String REGENERATE = "basalt.wire.regenerate";

  @Test
  void everyMessageAndEnumMatchesTheGoldenListing() throws IOException {
    List<String> actual = render(files());
    if (Boolean.getBoolean(REGENERATE)) {
      Files.write(GOLDEN_SOURCE, actual, StandardCharsets.UTF_8);
      fail(
          "wrote "
              + GOLDEN_SOURCE.toAbsolutePath()
              + " ("
              + actual.size()
              + " lines): review its diff, commit it, and run again without -D"
              + REGENERATE);
    }
    List<String> expected;
    try (InputStream in = WireContractTest.class.getResourceAsStream("/" + GOLDEN)) {
      assertThat(in).as("golden listing %s on the test classpath", GOLDEN).isNotNull();
      expected = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }
    Set<String> removed = new LinkedHashSet<>(expected);
    removed.removeAll(actual);
    Set<String> added = new LinkedHashSet<>(actual);
    added.removeAll(expected);
    if (!expected.equals(actual)) {
      // Sorted by text, so the old and the new line of one field or value stand together.
      TreeMap<String, String> diff = new TreeMap<>();
      removed.forEach(line -> diff.put(line + " -", "- " + line));
      added.forEach(line -> diff.put(line + " +", "+ " + line));
      if (diff.isEmpty()) {
        diff.put("", "(the same lines in another order or repeated)");
      }
      fail(
          "the wire contract changed (- golden listing, + the .proto files now):\n"
              + String.join("\n", diff.values())
              + "\nField numbers, types and names are forever: a renumbered, retyped, renamed or"
              + " reused field breaks data on disk and peers of other versions. If the change is"
              + " a deliberate, compatible one (a new field with a new number), regenerate the"
              + " listing with -D"
              + REGENERATE
              + "=true (e.g. ./mvnw -pl api verify -Dtest=WireContractTest -D"
              + REGENERATE
              + "=true), review the diff of "
              + GOLDEN_SOURCE
              + " and commit it.");
    }
  }

  @Test
  void everyMessageRoundTripsByteForByteWithUnknownFields() throws Exception {
    int messages = 0;
    for (FileDescriptor file : files()) {
      for (Descriptor type : allMessages(file)) {
        Message prototype = defaultInstance(type);
        int oneofWidth =
            type.getRealOneofs().stream().mapToInt(o -> o.getFieldCount()).max().orElse(1);
        // One instance per member of the widest oneof: together they set every field.
        for (int variant = 0; variant < oneofWidth; variant++) {
          Message full = fill(prototype.newBuilderForType(), variant, 0).build();
          assertEveryFieldSet(full, variant);
          byte[] input = full.toByteArray();
          Message parsed = prototype.getParserForType().parseFrom(input);
          assertThat(parsed).as(type.getFullName()).isEqualTo(full);
          assertThat(parsed.getUnknownFields().hasField(unknownNumber(type)))
              .as("%s keeps the unknown field", type.getFullName())
              .isTrue();
          assertThat(HexFormat.of().formatHex(parsed.toByteArray()))
              .as("%s re-serialized", type.getFullName())
              .isEqualTo(HexFormat.of().formatHex(input));
        }
        messages++;
      }
    }
    assertThat(messages).as("messages walked").isGreaterThanOrEqualTo(50);
  }

  @Test
  void encodingOfARangeDescriptorIsStable() {
    RangeDescriptor descriptor =
        RangeDescriptor.newBuilder()
            .setRangeId(7)
            .setStartKey(ByteString.copyFromUtf8("a"))
            .setEndKey(ByteString.copyFromUtf8("m"))
            .addReplicas(
                ReplicaDescriptor.newBuilder()
                    .setNodeId(1)
                    .setReplicaId(2)
                    .setRole(ReplicaRole.REPLICA_ROLE_LEARNER))
            .setGeneration(3)
            .setNextReplicaId(4)
            .build();
    // 08 07 | 12 01 'a' | 1a 01 'm' | 22 06 (08 01 10 02 18 01) | 28 03 | 30 04
    assertThat(HexFormat.of().formatHex(descriptor.toByteArray()))
        .isEqualTo("0807120161" + "1a016d" + "2206080110021801" + "2803" + "3004");
  }

  @Test
  void unknownFieldsFromANewerPeerAreKeptNotFatal() throws Exception {
    String newer = "0807" + "a80601"; // range_id=7 and an unknown field 101 = 1
    RangeDescriptor parsed = RangeDescriptor.parseFrom(HexFormat.of().parseHex(newer));
    assertThat(parsed.getRangeId()).isEqualTo(7);
    assertThat(parsed.getUnknownFields().getField(101).getVarintList()).containsExactly(1L);
    assertThat(HexFormat.of().formatHex(parsed.toByteArray())).isEqualTo(newer);
  }

  // --- The listing -------------------------------------------------------------------------------

  /**
   * One line per file, message, reserved range or name, field, enum and enum value, in an order
   * that is not itself contract: files, messages and enums by name, fields and values by number.
   */
  static List<String> render(List<FileDescriptor> files) {
    List<String> lines = new ArrayList<>();
    lines.add("# The wire contract of the api module's .proto files, checked by WireContractTest.");
    lines.add("# Regenerate deliberately: -D" + REGENERATE + "=true, then review and commit.");
    for (FileDescriptor file : files) {
      lines.add("file " + file.getName() + " package " + file.getPackage());
      for (Descriptor type : allMessages(file)) {
        String name = type.getFullName();
        lines.add("message " + name);
        type.toProto()
            .getReservedRangeList()
            .forEach(
                r -> lines.add("reserved " + name + " " + r.getStart() + ".." + (r.getEnd() - 1)));
        type.toProto()
            .getReservedNameList()
            .forEach(n -> lines.add("reserved " + name + " \"" + n + "\""));
        type.getFields().stream()
            .sorted(Comparator.comparingInt(FieldDescriptor::getNumber))
            .forEach(f ->
                lines.add(
                    "field "
                        + name
                        + "."
                        + f.getName()
                        + " = "
                        + f.getNumber()
                        + " "
                        + typeName(f)
                        + label(f)));
      }
      for (EnumDescriptor e : allEnums(file)) {
        lines.add("enum " + e.getFullName());
        e.getValues().stream()
            .sorted(
                Comparator.comparingInt(EnumValueDescriptor::getNumber)
                    .thenComparing(EnumValueDescriptor::getName))
            .forEach(v ->
                lines.add("value " + e.getFullName() + "." + v.getName() + " = " + v.getNumber()));
      }
    }
    return lines;
  }

  private static String typeName(FieldDescriptor f) {
    return switch (f.getJavaType()) {
      case MESSAGE -> "message " + f.getMessageType().getFullName();
      case ENUM -> "enum " + f.getEnumType().getFullName();
      default -> f.getType().name().toLowerCase(java.util.Locale.ROOT);
    };
  }

  private static String label(FieldDescriptor f) {
    if (f.isRepeated()) {
      return f.isMapField() ? " map" : f.isPacked() ? " repeated packed" : " repeated";
    }
    OneofDescriptor oneof = f.getRealContainingOneof();
    if (oneof != null) {
      return " oneof " + oneof.getName();
    }
    return f.hasPresence() ? " optional" : " singular";
  }

  // --- Walking the module's descriptors ----------------------------------------------------------

  /**
   * The .proto files of this module, from the generated outer classes, checked against the .proto
   * sources so that a new file cannot escape the contract.
   */
  static List<FileDescriptor> files() throws IOException {
    TreeMap<String, FileDescriptor> byName = new TreeMap<>();
    Path classes;
    try {
      classes = Path.of(Meta.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IOException(e);
    }
    Path pkg = classes.resolve(Meta.class.getPackageName().replace('.', '/'));
    try (Stream<Path> list = Files.list(pkg)) {
      for (Path p : list.sorted().toList()) {
        String file = p.getFileName().toString();
        if (!file.endsWith(".class") || file.contains("$")) {
          continue;
        }
        String className = Meta.class.getPackageName() + "." + file.replace(".class", "");
        FileDescriptor descriptor = fileDescriptorOf(className);
        if (descriptor != null) {
          byName.put(descriptor.getName(), descriptor);
        }
      }
    }
    TreeSet<String> sources = new TreeSet<>();
    assertThat(PROTO_SOURCES).as("the api module's proto sources (run from api/)").isDirectory();
    try (Stream<Path> walk = Files.walk(PROTO_SOURCES)) {
      walk.filter(p -> p.toString().endsWith(".proto"))
          .forEach(p -> sources.add(PROTO_SOURCES.relativize(p).toString().replace('\\', '/')));
    }
    assertThat(byName.keySet()).as("generated .proto files").isEqualTo(sources);
    return List.copyOf(byName.values());
  }

  private static FileDescriptor fileDescriptorOf(String className) {
    try {
      Class<?> c = Class.forName(className);
      Method m = c.getMethod("getDescriptor");
      if (Modifier.isStatic(m.getModifiers()) && m.getReturnType() == FileDescriptor.class) {
        return (FileDescriptor) m.invoke(null);
      }
      return null;
    } catch (NoSuchMethodException e) {
      return null;
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(className, e);
    }
  }

  static List<Descriptor> allMessages(FileDescriptor file) {
    List<Descriptor> out = new ArrayList<>();
    for (Descriptor d : file.getMessageTypes()) {
      addWithNested(d, out);
    }
    out.sort(Comparator.comparing(Descriptor::getFullName));
    return out;
  }

  private static void addWithNested(Descriptor d, List<Descriptor> out) {
    out.add(d);
    for (Descriptor nested : d.getNestedTypes()) {
      addWithNested(nested, out);
    }
  }

  private static List<EnumDescriptor> allEnums(FileDescriptor file) {
    List<EnumDescriptor> out = new ArrayList<>(file.getEnumTypes());
    for (Descriptor d : allMessages(file)) {
      out.addAll(d.getEnumTypes());
    }
    out.sort(Comparator.comparing(EnumDescriptor::getFullName));
    return out;
  }

  // --- Filling every field -----------------------------------------------------------------------

  private static Message defaultInstance(Descriptor type) throws ReflectiveOperationException {
    StringBuilder name = new StringBuilder(type.getName());
    for (Descriptor outer = type.getContainingType();
        outer != null;
        outer = outer.getContainingType()) {
      name.insert(0, outer.getName() + "$");
    }
    FileDescriptor file = type.getFile();
    assertThat(file.getOptions().getJavaMultipleFiles())
        .as("%s: java_multiple_files", file.getName())
        .isTrue();
    Class<?> c = Class.forName(file.getOptions().getJavaPackage() + "." + name);
    Message instance = (Message) c.getMethod("getDefaultInstance").invoke(null);
    assertThat(instance.getDescriptorForType()).isSameAs(type);
    return instance;
  }

  /** A field number this message does not declare. */
  private static int unknownNumber(Descriptor type) {
    return type.getFields().stream().mapToInt(FieldDescriptor::getNumber).max().orElse(0) + 100;
  }

  /**
   * Sets every field of {@code b} to a non-default value (two elements for repeated fields), the
   * {@code variant}-th member of each oneof (modulo its size), and two unknown fields.
   */
  private static Message.Builder fill(Message.Builder b, int variant, int depth) {
    Descriptor type = b.getDescriptorForType();
    for (FieldDescriptor f : type.getFields()) {
      if (!chosen(f, variant)) {
        continue;
      }
      if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && depth >= 3) {
        continue; // a recursive type: deep enough
      }
      if (f.isRepeated()) {
        for (int i = 0; i < 2; i++) {
          b.addRepeatedField(f, value(b, f, i, variant, depth));
        }
      } else {
        b.setField(f, value(b, f, 0, variant, depth));
      }
    }
    int unknown = unknownNumber(type);
    b.setUnknownFields(
        UnknownFieldSet.newBuilder()
            .addField(unknown, UnknownFieldSet.Field.newBuilder().addVarint(150).build())
            .addField(
                unknown + 1,
                UnknownFieldSet.Field.newBuilder()
                    .addLengthDelimited(ByteString.copyFromUtf8("from a newer peer"))
                    .build())
            .build());
    return b;
  }

  private static boolean chosen(FieldDescriptor f, int variant) {
    OneofDescriptor oneof = f.getRealContainingOneof();
    return oneof == null || oneof.getField(variant % oneof.getFieldCount()) == f;
  }

  private static Object value(Message.Builder b, FieldDescriptor f, int i, int variant, int depth) {
    long n = f.getNumber() * 1000L + i + 1;
    return switch (f.getJavaType()) {
      case INT -> f.getType() == FieldDescriptor.Type.UINT32 ? (int) n : (int) -n;
      case LONG ->
          switch (f.getType()) {
            case UINT64, FIXED64 -> Long.MIN_VALUE + n; // the high bit: a ten-byte varint
            default -> -n;
          };
      case FLOAT -> (float) n + 0.5f;
      case DOUBLE -> n + 0.25;
      case BOOLEAN -> true;
      case STRING -> f.getName() + "-" + i;
      case BYTE_STRING -> ByteString.copyFromUtf8(f.getName() + "-" + i);
      case ENUM -> {
        List<EnumValueDescriptor> values = f.getEnumType().getValues();
        yield values.get((values.size() - 1 - i + values.size()) % values.size());
      }
      case MESSAGE -> fill(b.newBuilderForField(f), variant, depth + 1).build();
    };
  }

  private static void assertEveryFieldSet(Message m, int variant) {
    for (FieldDescriptor f : m.getDescriptorForType().getFields()) {
      if (!chosen(f, variant)) {
        continue;
      }
      String what = f.getFullName();
      if (f.isRepeated()) {
        assertThat(m.getRepeatedFieldCount(f)).as(what).isEqualTo(2);
      } else if (f.hasPresence()) {
        assertThat(m.hasField(f)).as(what).isTrue();
      } else {
        assertThat(m.getField(f)).as(what).isNotEqualTo(f.getDefaultValue());
      }
    }
  }
}
