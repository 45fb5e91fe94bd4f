// Whose faces the face filters change (a policy's `faces`), in a person's words, and what they
// found in an upload, as the audit page tells it.

/** The control API's choices (its OpenAPI `faces` enum), as a person reads them. */
export const WHOSE_FACES = [
  ["all", "All faces"],
  ["bystanders", "Bystanders only (keep the main subject's face)"],
  ["none", "No faces"],
];
export const DEFAULT_FACES = "all";

// What each face filter does to a face, for "3 faces found, 3 blurred".
const VERBS = { "faces-blur": "blurred", "faces-pixelate": "pixelated", "faces-cloak": "cloaked" };
const WHOSE_NOTES = { bystanders: " (bystanders only)", none: " (the policy changes no faces)" };

/** Fill `select` with the choices and choose `value` (the default when a policy has none). */
export function showWhoseFaces(select, value) {
  select.replaceChildren(...WHOSE_FACES.map(([name, label]) => new Option(label, name)));
  select.value = WHOSE_FACES.some(([name]) => name === value) ? value : DEFAULT_FACES;
}

/** The faces found in an audit entry: x, y, w, h as fractions of the photo shown upright. */
export function faceBoxes(entry) {
  return (entry.faces_found || []).map((text) => {
    const [x, y, w, h] = text.split(",").map(Number);
    return { x, y, w, h };
  });
}

/** "2 faces found, 1 cloaked (bystanders only)"; "" when no face filter ran. */
export function facesInWords(entry) {
  if (entry.faces_changed === null || entry.faces_changed === undefined) return "";
  const found = faceBoxes(entry).length;
  if (!found) return "No faces found";
  // The audit's faces are the first face filter's: it saw the faces as uploaded.
  const filter = entry.filters.find((name) => name.startsWith("faces-"));
  const verb = VERBS[filter] || "changed";
  return `${found} face${found === 1 ? "" : "s"} found, ${entry.faces_changed} ${verb}` +
    (WHOSE_NOTES[entry.faces] || "");
}
