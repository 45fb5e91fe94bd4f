// Dates and numbers in the browser's language (navigator.languages), never a fixed en-US.

const locales = () => (globalThis.navigator && navigator.languages) || undefined;

/** "2 Dec 2026, 23:29" in en-GB, "02.12.2026, 23:29" in de-DE. */
export function formatDate(iso) {
  return new Intl.DateTimeFormat(locales(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

/** A number with `digits` decimals: 1,234.5 or 1.234,5. */
export function formatNumber(value, digits = 0) {
  return new Intl.NumberFormat(locales(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** A fraction as a whole percent: 0.93 → "93%" (or "93 %"). */
export function formatPercent(fraction) {
  return new Intl.NumberFormat(locales(), { style: "percent", maximumFractionDigits: 0 }).format(fraction);
}

/** "1 upload", "1,234 uploads". */
export function countOf(count, noun) {
  return `${formatNumber(count)} ${noun}${count === 1 ? "" : "s"}`;
}

/** A latitude or longitude to 5 decimals (about a metre), so that a column lines up. */
export function formatCoordinate(value) {
  return formatNumber(value, 5);
}

// A decimal as people type it: a point or a comma before the decimals, no grouping.
const DECIMAL = String.raw`[-+\u2212]?\d+(?:[.,]\d+)?`;

/** "51.50135" or "51,50135" → 51.50135; NaN when the text is not such a number. */
export function parseDecimal(text) {
  const clean = String(text).trim();
  if (!new RegExp(`^${DECIMAL}$`).test(clean)) return NaN;
  return Number(clean.replace("\u2212", "-").replace(",", "."));
}

// Two numbers as map apps copy a point: "51.50135, -0.14189", "51.50135,-0.14189",
// "51,50135; -0,14189", "51.50135 -0.14189", "51.50135° N, 0.14189° W".
const PART = String.raw`(${DECIMAL})\s*°?\s*([NSEW]?)`;
const POINT = new RegExp(String.raw`^${PART}\s*(?:;|,\s|\s)\s*${PART}$`, "i");
// A bare comma only between two numbers with decimal points: "51,5" is one number in German.
const TIGHT = /^([-+]?\d+\.\d+),([-+]?\d+\.\d+)$/;

/** A pasted point → {latitude, longitude}; null when the text is not two numbers. */
export function parsePoint(text) {
  const clean = String(text).trim();
  const tight = TIGHT.exec(clean);
  if (tight) return { latitude: Number(tight[1]), longitude: Number(tight[2]) };
  const found = POINT.exec(clean);
  if (!found) return null;
  let [, first, firstSide, second, secondSide] = found;
  [firstSide, secondSide] = [firstSide.toUpperCase(), secondSide.toUpperCase()];
  if ("EW".includes(firstSide || "-") || "NS".includes(secondSide || "-")) {
    [first, firstSide, second, secondSide] = [second, secondSide, first, firstSide]; // "0.1 W, 51.5 N"
  }
  if ("EW".includes(firstSide || "-") || "NS".includes(secondSide || "-")) return null; // "N, N"
  const signed = (number, side) => ("SW".includes(side || "-") ? -Math.abs(number) : number);
  return { latitude: signed(parseDecimal(first), firstSide), longitude: signed(parseDecimal(second), secondSide) };
}
