package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

/** Stock levels by SKU: {"sku": "BOOK-1"} -> {"sku": "BOOK-1", "inStock": 12, "reorder": false}. */
public class Inventory implements RequestHandler<Map<String, Object>, Map<String, Object>> {
  static final Map<String, Integer> STOCK = Map.of("BOOK-1", 12, "PEN-2", 3, "MUG-3", 0);
  static final int REORDER_BELOW = 5;

  @Override
  public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
    Object sku = event == null ? null : event.get("sku");
    Map<String, Object> out = new LinkedHashMap<>();
    if (!(sku instanceof String) || ((String) sku).isEmpty()) {
      out.put("error", "sku is a non-empty string, e.g. BOOK-1");
      return out;
    }
    Integer level = STOCK.get(sku);
    out.put("sku", sku);
    out.put("known", level != null);
    out.put("inStock", level == null ? 0 : level);
    out.put("reorder", level == null || level < REORDER_BELOW);
    if (context != null) {
      context.getLogger().log("inventory " + sku + ": " + out.get("inStock"));
      out.put("requestId", context.getAwsRequestId());
    }
    return out;
  }
}
