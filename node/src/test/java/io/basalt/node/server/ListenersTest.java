package io.basalt.node.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.basalt.node.store.StoreListener;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ListenersTest {
  /**
   * Every event reaches both listeners: a method left to the interface's empty default would
   * silently drop its log line and its metric.
   */
  @Test
  void everyEventReachesBothListeners() throws Exception {
    List<String> first = new ArrayList<>();
    List<String> second = new ArrayList<>();
    Listeners both = new Listeners(recording(first), recording(second));
    List<String> events = new ArrayList<>();
    for (Method m : StoreListener.class.getMethods()) {
      Object[] args = new Object[m.getParameterCount()];
      for (int i = 0; i < args.length; i++) {
        args[i] = defaultOf(m.getParameterTypes()[i]);
      }
      m.invoke(both, args);
      events.add(m.getName());
    }
    assertThat(events).contains("snapshotSent", "snapshotNotSent", "snapshotInstalled");
    assertThat(first).containsExactlyInAnyOrderElementsOf(events);
    assertThat(second).containsExactlyInAnyOrderElementsOf(events);
  }

  private static StoreListener recording(List<String> calls) {
    return (StoreListener)
        Proxy.newProxyInstance(
            StoreListener.class.getClassLoader(),
            new Class<?>[] {StoreListener.class},
            (proxy, method, args) -> {
              calls.add(method.getName());
              return null;
            });
  }

  private static Object defaultOf(Class<?> type) {
    if (type == long.class) {
      return 0L;
    }
    if (type == int.class) {
      return 0;
    }
    if (type == boolean.class) {
      return false;
    }
    if (type == double.class) {
      return 0.0;
    }
    return type == String.class ? "" : null;
  }
}
