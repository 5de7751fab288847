package io.basalt.range.storage;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

class RocksDbEngineTest extends EngineContractTest {
  @TempDir Path directory;

  @Override
  protected Engine open() {
    return RocksDbEngine.open(directory);
  }

  @Override
  protected Engine reopen(Engine engine) {
    engine.close();
    return RocksDbEngine.open(directory);
  }
}
