package io.basalt.node.cli;

/** JVM settings a node process takes unless its command line gives them. */
final class NodeProcessDefaults {
  private NodeProcessDefaults() {}

  /**
   * A node does not sample its buffers for leaks (Netty's default samples one allocation in 128,
   * recording a stack trace for each, which costs CPU on every request, more with TLS, whose
   * records allocate more buffers) unless {@code -Dio.netty.leakDetection.level} is given, as the
   * tests give it. Called before any buffer is allocated: Netty reads it once.
   */
  static void apply() {
    if (System.getProperty("io.netty.leakDetection.level") == null
        && System.getProperty("io.netty.leakDetectionLevel") == null) {
      System.setProperty("io.netty.leakDetection.level", "disabled");
    }
  }
}
