package io.basalt.client;

/** A parsed "host:port" ("[v6-address]:port" for IPv6 literals). */
record HostAndPort(String host, int port) {
  static HostAndPort parse(String address) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException("address '" + address + "' is not host:port");
    }
    String host = address.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    } else if (host.contains(":")) {
      throw new IllegalArgumentException(
          "address '" + address + "' is not host:port (write IPv6 literals as [addr]:port)");
    }
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("address '" + address + "' has no numeric port", e);
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("address '" + address + "' has port " + port);
    }
    return new HostAndPort(host, port);
  }
}
