package io.basalt.range.prop;

import java.lang.reflect.Method;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Runs a property over many generated values, each from its own seed, and on the first failure
 * throws an {@link AssertionError} naming the try, the seed, the value and a one-line command that
 * replays it.
 *
 * <p>The run's seed comes from the system property {@value #SEED_PROPERTY} (so {@code
 * -Dbasalt.seed=N} on the Maven command line) or is fresh per run. Try {@code i} is generated from
 * {@code seed + i * 0x9E3779B97F4A7C15}, so try 0 of a run uses the run's seed itself: the failure
 * message's seed, passed back as {@value #SEED_PROPERTY}, makes the failing value the first one
 * tried.
 */
public final class PropertyRunner {
  public static final String SEED_PROPERTY = "basalt.seed";
  private static final long SEED_STEP = 0x9E3779B97F4A7C15L;

  private PropertyRunner() {}

  /** Checks {@code property} on {@code tries} values of {@code gen}. */
  public static <T> void forAll(int tries, Gen<T> gen, Consumer<? super T> property) {
    if (tries <= 0) {
      throw new IllegalArgumentException("tries must be positive, got " + tries);
    }
    Long fixed = Long.getLong(SEED_PROPERTY);
    long runSeed = fixed != null ? fixed : new SplittableRandom().nextLong();
    for (int i = 0; i < tries; i++) {
      long seed = runSeed + i * SEED_STEP;
      T value = null;
      try {
        value = gen.next(new SplittableRandom(seed));
        property.accept(value);
      } catch (VirtualMachineError e) {
        throw e;
      } catch (Throwable e) {
        String test = callingTest();
        throw new AssertionError(
            "property "
                + test
                + " failed on try "
                + (i + 1)
                + " of "
                + tries
                + " with seed "
                + seed
                + (i == 0 ? "" : " (run seed " + runSeed + ")")
                + "\n  value: "
                + show(value)
                + "\n  replay: bin/test -pl "
                + module()
                + " -am -Dtest='"
                + test
                + "' -D"
                + SEED_PROPERTY
                + "="
                + seed
                + "\n  failure: "
                + e.toString().strip().replace("\n", "\n    "),
            e);
      }
    }
  }

  /** {@code Class#method} of the test method that called {@link #forAll}. */
  private static String callingTest() {
    return StackWalker.getInstance()
        .walk(frames ->
            frames
                .filter(f -> !f.getClassName().equals(PropertyRunner.class.getName()))
                .findFirst()
                .map(f -> {
                  String cls = f.getClassName();
                  return cls.substring(cls.lastIndexOf('.') + 1) + "#" + f.getMethodName();
                })
                .orElse("?"));
  }

  /** The Maven module under test: surefire runs tests in the module's directory. */
  private static String module() {
    String dir = System.getProperty("basedir", System.getProperty("user.dir"));
    return Path.of(dir).getFileName().toString();
  }

  /** A readable form of a generated value: byte arrays in hex, records component by component. */
  static String show(Object value) {
    if (value instanceof byte[] bytes) {
      return "[" + HexFormat.ofDelimiter(" ").formatHex(bytes) + "]";
    }
    if (value instanceof Collection<?> values) {
      return values.stream().map(PropertyRunner::show).collect(Collectors.joining(", ", "[", "]"));
    }
    if (value instanceof Record record) {
      StringBuilder out = new StringBuilder(record.getClass().getSimpleName()).append('[');
      RecordComponent[] components = record.getClass().getRecordComponents();
      for (int i = 0; i < components.length; i++) {
        out.append(i == 0 ? "" : ", ").append(components[i].getName()).append('=');
        try {
          Method accessor = components[i].getAccessor();
          accessor.setAccessible(true);
          out.append(show(accessor.invoke(record)));
        } catch (ReflectiveOperationException | RuntimeException e) {
          return String.valueOf(value);
        }
      }
      return out.append(']').toString();
    }
    return String.valueOf(value);
  }
}
