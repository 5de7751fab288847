package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The README's main job, {@code basalt demo}, in a short run: it must fail over and check out. */
class DemoTest {
  @Test
  void theDemoFailsOverAndItsConsistencyCheckPasses() throws Exception {
    // --keep leaves the nodes running at the end, so that their logs can be checked here.
    CliTest.Result r = CliTest.cli("demo", "--duration=20s", "--workers=8", "--keep");
    List<Path> logs = new ArrayList<>();
    try {
      Matcher m = Pattern.compile("(?m)log (\\S+)\\)$").matcher(r.out());
      while (m.find()) {
        logs.add(Path.of(m.group(1)));
      }
    } finally {
      Matcher stop = Pattern.compile("(?m)stop: kill ([\\d ]+)$").matcher(r.out());
      if (stop.find()) {
        for (String pid : stop.group(1).trim().split(" +")) {
          ProcessHandle.of(Long.parseLong(pid))
              .ifPresent(p -> {
                p.destroyForcibly();
                p.onExit().join();
              });
        }
      }
    }
    assertThat(r.code()).as("exit code; output:\n%s\n%s", r.out(), r.err()).isZero();
    assertThat(r.out())
        .contains("initialized cluster")
        .contains("killing node")
        .contains("restarted node")
        .contains("writable again")
        .contains("stale reads     0")
        .contains("consistency check: OK")
        .containsPattern(
            "bank +[1-9][0-9]* transfers, [1-9][0-9]* audits \\(0 saw a wrong total\\),"
                + " final total 20000 of 20000: OK");
    assertThat(logs).as("node logs named in the output:\n%s", r.out()).hasSize(3);
    ProcessCluster.assertNoUnexpectedErrors(logs, List.of());
    try (Stream<Path> files = Files.walk(logs.get(0).getParent())) {
      files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
