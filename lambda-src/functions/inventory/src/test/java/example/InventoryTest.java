package example;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;

class InventoryTest {
  private final Inventory fn = new Inventory();

  @Test
  void knownSkuWithStock() {
    Map<String, Object> r = fn.handleRequest(Map.of("sku", "BOOK-1"), null);
    assertEquals(12, r.get("inStock"));
    assertEquals(false, r.get("reorder"));
  }

  @Test
  void lowStockIsReordered() {
    assertEquals(true, fn.handleRequest(Map.of("sku", "PEN-2"), null).get("reorder"));
  }

  @Test
  void unknownSku() {
    Map<String, Object> r = fn.handleRequest(Map.of("sku", "NOPE"), null);
    assertEquals(false, r.get("known"));
    assertEquals(0, r.get("inStock"));
  }

  @Test
  void missingSku() {
    assertEquals("sku is a non-empty string, e.g. BOOK-1", fn.handleRequest(Map.of(), null).get("error"));
  }
}
