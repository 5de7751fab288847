package io.basalt.node.transport;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.DefaultNameResolver;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetSocketAddress;

/**
 * Looks a peer's name up again at every dial, on a thread of its own: a peer that comes back at a
 * new address under the same name (a Kubernetes pod re-created) is reached there once the name's
 * cached answer expires, instead of being dialled at its old address for good; and a slow DNS
 * server never stalls an event loop. Lookups go through the JVM's resolver, so they honour its
 * cache ({@code networkaddress.cache.ttl}) and hosts file.
 */
final class PeerResolver extends AddressResolverGroup<InetSocketAddress> {
  static final PeerResolver INSTANCE = new PeerResolver();

  private final EventExecutor lookups =
      new DefaultEventExecutor(new DefaultThreadFactory("basalt-dns", true));

  private PeerResolver() {}

  @Override
  protected AddressResolver<InetSocketAddress> newResolver(EventExecutor ignored) {
    return new DefaultNameResolver(lookups).asAddressResolver();
  }

  /** {@code address} by name (or literal) only, for the dial to resolve. */
  static InetSocketAddress unresolved(InetSocketAddress address) {
    return InetSocketAddress.createUnresolved(address.getHostString(), address.getPort());
  }
}
