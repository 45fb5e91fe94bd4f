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
