/**
 * Opaque page cursors: base64url JSON of the sort key after which the next page starts and the
 * order it was made for (reusing a cursor with another order is a 400, spec §2).
 */

import { z } from "zod";
import { ValidationError } from "./errors.js";

const Cursor = z.object({
  o: z.enum(["asc", "desc"]),
  /** Direction relative to `o`: `n` = the next page, `p` = the previous page. */
  d: z.enum(["n", "p"]).default("n"),
  k: z
    .array(z.union([z.string(), z.number()]))
    .min(1)
    .max(3),
});
export type Cursor = z.infer<typeof Cursor>;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString("base64url");
}

export function decodeCursor(page: string | undefined, order: "asc" | "desc"): Cursor | undefined {
  if (page === undefined || page === "") return undefined;
  let parsed: Cursor;
  try {
    parsed = Cursor.parse(JSON.parse(Buffer.from(page, "base64url").toString("utf8")));
  } catch {
    throw new ValidationError("page: not a valid page cursor", { details: { error_code: "invalid_page" } });
  }
  if (parsed.o !== order) {
    throw new ValidationError(`page: this cursor was made for order "${parsed.o}", not "${order}"`, {
      details: { error_code: "invalid_page" },
    });
  }
  return parsed;
}
