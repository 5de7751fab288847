package io.basalt.node.process;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The README's main job, {@code basalt demo}, in a short run: it must fail over and check out. */
class DemoTest {
  @Test
  void theDemoFailsOverAndItsConsistencyCheckPasses() throws Exception {
    CliTest.Result r = CliTest.cli("demo", "--duration=20s", "--workers=8");
    assertThat(r.code()).as("exit code; output:\n%s\n%s", r.out(), r.err()).isZero();
    assertThat(r.out())
        .contains("initialized cluster")
        .contains("killing node")
        .contains("restarted node")
        .contains("writable again")
        .contains("stale reads     0")
        .contains("consistency check: OK");
  }
}
