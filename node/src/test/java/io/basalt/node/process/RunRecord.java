package io.basalt.node.process;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * What a fault run leaves for a person to look at, in {@code node/target/runs/NAME-seedN/}: the
 * history ({@code history.txt}, one operation per line: invoked and completed in ms since the
 * start, client, key, operation, outcome), the nemesis timeline ({@code nemesis.txt}), every node's
 * log, the checker's verdict ({@code verdict.txt}) and a picture ({@code run.png}): acknowledged
 * operations per second and every operation's latency over time, failed ones red and those of
 * unknown outcome orange, each fault's interval shaded and named.
 */
final class RunRecord {
  record Fault(long startNanos, long endNanos, String what) {}

  final Path dir;
  private final long t0 = System.nanoTime();
  private final List<Fault> faults = new ArrayList<>();
  private final StringBuilder timeline = new StringBuilder();
  private String current;
  private long currentStart;

  private RunRecord(Path dir) {
    this.dir = dir;
  }

  static RunRecord create(String name, long seed) throws IOException {
    Path dir = Path.of("target", "runs", name + "-seed" + seed).toAbsolutePath();
    if (Files.exists(dir)) {
      try (Stream<Path> old = Files.walk(dir)) {
        for (Path p : old.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    }
    Files.createDirectories(dir);
    return new RunRecord(dir);
  }

  void faultStarts(String what) {
    current = what;
    currentStart = System.nanoTime();
    timeline.append(
        String.format(Locale.ROOT, "%8.3f s  start  %s%n", sinceStart(currentStart), what));
  }

  void healed() {
    long now = System.nanoTime();
    faults.add(new Fault(currentStart, now, current));
    timeline.append(String.format(Locale.ROOT, "%8.3f s  healed %s%n", sinceStart(now), current));
  }

  /**
   * Runs {@code check} (the checker), writes its verdict, the history, the timeline, the nodes'
   * logs and the picture, and rethrows what the check threw.
   */
  void finish(ProcessCluster cluster, Workload w, CheckedRunnable check) throws Exception {
    String verdict;
    Throwable failure = null;
    try {
      check.run();
      verdict =
          String.format(
              Locale.ROOT,
              "valid: linearizable per key, every acknowledged write on every replica%n"
                  + "%d acknowledged (%d reads, %d writes), %d of unknown outcome, %d failed%n",
              w.ok.get(),
              w.readsOk.get(),
              w.writesOk.get(),
              w.unknown.get(),
              w.failed.get());
    } catch (Exception | AssertionError e) {
      failure = e;
      verdict = "INVALID: " + e.getMessage() + "\n";
    }
    Files.writeString(dir.resolve("verdict.txt"), verdict);
    Files.writeString(dir.resolve("nemesis.txt"), timeline);
    List<Workload.Outcome> ops;
    synchronized (w.outcomes) {
      ops = new ArrayList<>(w.outcomes);
    }
    ops.sort(Comparator.comparingLong(Workload.Outcome::invoked));
    StringBuilder history = new StringBuilder();
    for (Workload.Outcome o : ops) {
      history.append(
          String.format(
              Locale.ROOT,
              "%10.3f %10.3f %3d %-4s %-8s %s%n",
              sinceStart(o.invoked()) * 1000,
              sinceStart(o.completed()) * 1000,
              o.client(),
              o.key(),
              o.result(),
              o.op()));
    }
    Files.writeString(dir.resolve("history.txt"), history);
    try (Stream<Path> logs = Files.list(cluster.dir)) {
      for (Path log : logs.filter(p -> p.toString().endsWith(".log")).toList()) {
        Files.copy(log, dir.resolve(log.getFileName()));
      }
    }
    try {
      picture(ops, dir.resolve("run.png"), dir.getFileName().toString());
    } catch (IOException | RuntimeException | Error e) {
      System.out.println("run record: no picture (" + e + ")");
    }
    System.out.println("run record: " + dir);
    if (failure instanceof Exception e) {
      throw e;
    } else if (failure instanceof AssertionError e) {
      throw e;
    }
  }

  interface CheckedRunnable {
    void run() throws Exception;
  }

  private double sinceStart(long nanos) {
    return (nanos - t0) / 1e9;
  }

  private static final int W = 1400;
  private static final int H = 640;
  private static final int LEFT = 70;
  private static final int RIGHT = 20;

  private void picture(List<Workload.Outcome> ops, Path png, String title) throws IOException {
    System.setProperty("java.awt.headless", "true");
    double end = ops.isEmpty() ? 1 : sinceStart(ops.get(ops.size() - 1).completed());
    for (Workload.Outcome o : ops) {
      end = Math.max(end, sinceStart(o.completed()));
    }
    BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, W, H);
    double seconds = Math.max(1, end);
    int plotW = W - LEFT - RIGHT;
    // Panels: throughput 50..250, latency 300..600.
    int tTop = 50;
    int tBottom = 250;
    int lTop = 300;
    int lBottom = 600;
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    // Faults, shaded across both panels.
    for (Fault f : faults) {
      int x0 = x(sinceStart(f.startNanos()), seconds, plotW);
      int x1 = x(sinceStart(f.endNanos()), seconds, plotW);
      g.setColor(new Color(255, 220, 220));
      g.fillRect(x0, tTop, Math.max(1, x1 - x0), lBottom - tTop);
      g.setColor(new Color(150, 0, 0));
      g.drawString(shorten(f.what(), x1 - x0), x0 + 3, tTop + 14);
    }
    // Throughput: acknowledged operations per second, in 250 ms buckets.
    int buckets = (int) Math.ceil(seconds * 4);
    int[] okPer = new int[buckets + 1];
    int[] badPer = new int[buckets + 1];
    for (Workload.Outcome o : ops) {
      int b = (int) (sinceStart(o.completed()) * 4);
      if (b >= 0 && b <= buckets) {
        if (o.result().equals("ok")) {
          okPer[b]++;
        } else {
          badPer[b]++;
        }
      }
    }
    int max = 1;
    for (int v : okPer) {
      max = Math.max(max, v * 4);
    }
    g.setColor(new Color(40, 90, 170));
    g.setStroke(new BasicStroke(1.5f));
    int px = -1;
    int py = -1;
    for (int b = 0; b <= buckets; b++) {
      int cx = x(b / 4.0, seconds, plotW);
      int cy = tBottom - (int) ((tBottom - tTop - 20) * (okPer[b] * 4.0) / max);
      if (px >= 0) {
        g.drawLine(px, py, cx, cy);
      }
      px = cx;
      py = cy;
    }
    g.setColor(Color.RED);
    for (int b = 0; b <= buckets; b++) {
      if (badPer[b] > 0) {
        int h = Math.min(tBottom - tTop, 3 + badPer[b] * 3);
        g.fillRect(x(b / 4.0, seconds, plotW), tBottom - h, 3, h);
      }
    }
    g.setColor(Color.BLACK);
    g.drawString(title + ": acknowledged operations per second (red: failed or unknown)", LEFT, 30);
    g.drawString(Integer.toString(max), 10, tTop + 24);
    g.drawString("0", 10, tBottom);
    // Latency, log scale from 0.1 ms to 10 s.
    for (Workload.Outcome o : ops) {
      double ms = Math.max(0.1, (o.completed() - o.invoked()) / 1e6);
      int cx = x(sinceStart(o.invoked()), seconds, plotW);
      double frac = (Math.log10(ms) + 1) / 5; // 0.1 ms .. 10 s
      int cy = lBottom - (int) ((lBottom - lTop) * Math.min(1, frac));
      switch (o.result()) {
        case "ok" -> g.setColor(new Color(90, 90, 90, 90));
        case "fail" -> g.setColor(Color.RED);
        default -> g.setColor(new Color(255, 140, 0));
      }
      int r = o.result().equals("ok") ? 2 : 4;
      g.fillOval(cx - r / 2, cy - r / 2, r, r);
    }
    g.setColor(Color.BLACK);
    g.drawString(
        "latency of each operation, by its start (grey ok, red failed, orange unknown)",
        LEFT,
        lTop - 10);
    String[] labels = {"0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s"};
    for (int i = 0; i < labels.length; i++) {
      int cy = lBottom - (lBottom - lTop) * i / 5;
      g.setColor(new Color(230, 230, 230));
      g.drawLine(LEFT, cy, W - RIGHT, cy);
      g.setColor(Color.BLACK);
      g.drawString(labels[i], 10, cy + 4);
    }
    for (int s = 0; s <= seconds; s += 5) {
      int cx = x(s, seconds, plotW);
      g.drawLine(cx, lBottom, cx, lBottom + 5);
      g.drawString(s + " s", cx - 8, lBottom + 20);
    }
    g.drawRect(LEFT, tTop, plotW, tBottom - tTop);
    g.drawRect(LEFT, lTop, plotW, lBottom - lTop);
    g.dispose();
    ImageIO.write(img, "png", png.toFile());
  }

  private static int x(double t, double seconds, int plotW) {
    return LEFT + (int) (plotW * t / seconds);
  }

  private static String shorten(String s, int width) {
    int chars = Math.max(0, width / 7);
    return s.length() <= chars ? s : s.substring(0, Math.max(0, chars - 1)) + "…";
  }
}
