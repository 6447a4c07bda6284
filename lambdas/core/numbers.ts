/** A decimal number as JSON and CSV write one (sign, digits, fraction, exponent): no hex, binary, octal, `Infinity` or `NaN`. */
const DECIMAL_LITERAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The number a text cell or request string holds, read as a decimal literal only (surrounding
 * white space aside): NaN for anything else, where `Number()` would also take "0x0C", "0b1100"
 * or "0o14" as 12 and "" as 0. A literal beyond a double's range reads as ±Infinity.
 */
export function parseDecimal(text: string): number {
  const t = text.trim();
  return DECIMAL_LITERAL.test(t) ? Number(t) : Number.NaN;
}
