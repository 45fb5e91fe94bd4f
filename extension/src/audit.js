// The audit page: recent uploads, before and after, what was removed and what the classifier saw.

import { send } from "./lib/ext.js";
import { faceBoxes, facesInWords } from "./lib/faces.js";
import { countOf, formatDate, formatNumber, formatPercent } from "./lib/format.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
// Files that track-privacy and motion-anonymise rewrite (CSV and JSON: accelerometer
// uploads): no pixels, no faces.
const ACTIVITY_FORMATS = new Set(["GPX", "TCX", "FIT", "CSV", "JSON"]);
// How long a downloaded original's object URL lives: the browser has begun saving it by then.
const REVOKE_AFTER_MS = 40_000;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function percent(confidence) {
  return confidence === null ? "" : ` (${formatPercent(confidence)})`;
}

function fact(list, term, value) {
  if (value === null || value === undefined || value === "") return;
  list.append(el("dt", term), el("dd", value));
}

function thumbnail(entry, which) {
  const figure = el("figure");
  const img = document.createElement("img");
  img.alt = `${which === "before" ? "Before" : "After"}: ${entry.filename || "photo"} sent to ${entry.site}`;
  img.className = which;
  const frame = el("div", undefined, "frame");
  frame.append(img);
  // The faces found, drawn where they were (fractions of the photo, so any thumbnail size
  // fits); the words are in the facts below, so the drawing is hidden from screen readers.
  if (which === "before") frame.append(...faceBoxes(entry).map(faceBox));
  figure.append(frame, el("figcaption", which === "before" ? "Before" : "After (what the site got)"));
  send("thumbnail", { id: entry.id, which })
    .then((url) => { img.src = url; })
    .catch(() => { img.alt = `${img.alt} (no thumbnail)`; });
  return figure;
}

function faceBox({ x, y, w, h }) {
  const box = el("span", undefined, "face");
  box.setAttribute("aria-hidden", "true");
  Object.assign(box.style, { left: `${x * 100}%`, top: `${y * 100}%`, width: `${w * 100}%`, height: `${h * 100}%` });
  return box;
}

/** With keep_originals on: a button that saves the upload as it was before Veil changed it. */
function originalControl(entry) {
  const box = el("p", undefined, "original");
  const button = el("button", "Original");
  button.type = "button";
  button.setAttribute("aria-label", `Original: download ${entry.filename || "this upload"} as it was before Veil changed it`);
  const note = el("span", undefined, "muted");
  note.setAttribute("role", "status");
  button.addEventListener("click", () => download(entry, button, note));
  box.append(button, note);
  return box;
}

async function download(entry, button, note) {
  button.disabled = true;
  note.textContent = "";
  try {
    const original = await send("original", { id: entry.id });
    if (original === null) {
      note.textContent = "The original is no longer kept (deleted at its limit, or never kept).";
      return;
    }
    const binary = atob(original.base64);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    const url = URL.createObjectURL(new Blob([bytes], { type: original.type }));
    const link = document.createElement("a");
    link.href = url;
    link.download = original.name;
    link.hidden = true;
    document.body.append(link); // Firefox saves only a link that is in the page
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), REVOKE_AFTER_MS);
  } catch (error) {
    note.textContent = `Cannot get the original: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

function card(entry, keepOriginals) {
  const article = el("article", undefined, `entry ${entry.outcome}`);
  article.dataset.id = entry.id;
  const header = el("header");
  const time = el("time", formatDate(entry.time));
  time.dateTime = entry.time;
  header.append(el("span", entry.outcome, `outcome ${entry.outcome}`), el("strong", entry.site), time,
    el("span", `${entry.method} ${entry.path}`, "muted"));
  article.append(header);
  if (entry.outcome === "blocked") {
    article.append(el("p", `Blocked: ${entry.reason || "protection failed"}. The site received nothing.`, "reason"));
  } else if (entry.outcome === "passed") {
    article.append(el("p", `Sent unchanged: ${entry.reason || "the policy allows the original"}.`, "reason"));
  }
  if (entry.thumbnails.length) {
    const thumbs = el("div", undefined, "thumbs");
    thumbs.append(...entry.thumbnails.map((which) => thumbnail(entry, which)));
    article.append(thumbs);
  }
  const facts = el("dl");
  const activity = ACTIVITY_FORMATS.has(entry.format);
  if (activity) {
    // Its pictures are drawings of the track (blue) and the privacy zones (red), and of a
    // few seconds of the accelerometer's magnitude.
    fact(facts, "Activity", [entry.filename, entry.format].filter(Boolean).join(", "));
  } else {
    fact(facts, "Photo", [entry.filename, entry.format, entry.width && `${entry.width}×${entry.height}`].filter(Boolean).join(", "));
  }
  fact(facts, "Removed", entry.metadata_removed.length ? entry.metadata_removed.join(", ") : "no metadata found");
  if (entry.label_before) {
    fact(facts, "Classifier saw", `${entry.label_before}${percent(entry.confidence_before)} → ${entry.label_after || "?"}${percent(entry.confidence_after)}`);
  }
  if (entry.visibility) fact(facts, "Visible change", visibility(entry));
  if (!activity) fact(facts, "Faces", facesInWords(entry));
  if (entry.ssim !== null) fact(facts, "Quality", `SSIM ${formatNumber(entry.ssim, 3)}, PSNR ${entry.psnr === null ? "∞" : formatNumber(entry.psnr, 1)} dB`);
  fact(facts, "Filters", entry.filters.length ? `${entry.filters.join(", ")} (${entry.strength})` : "");
  if (entry.size_before !== null) fact(facts, "Size", `${formatNumber(entry.size_before)} → ${typeof entry.size_after === "number" ? formatNumber(entry.size_after) : "–"} bytes`);
  if (entry.elapsed_ms !== null) fact(facts, "Took", `${formatNumber(entry.elapsed_ms)} ms`);
  article.append(facts);
  // Veil keeps the original only of an upload it changed (and measured, for its SHA-256).
  if (keepOriginals && entry.outcome === "protected" && entry.sha256_before) article.append(originalControl(entry));
  return article;
}

/** The change in words, then the measures beside what the platform's own JPEG does. */
function visibility(entry) {
  const butter = (value) => (value === null ? "" : `, Butteraugli ${formatNumber(value, 1)}`);
  const ours = `SSIMULACRA2 ${formatNumber(entry.ssimulacra2, 1)}${butter(entry.butteraugli)}`;
  const platform = `${formatNumber(entry.platform_ssimulacra2, 1)}${butter(entry.platform_butteraugli)}`;
  return `${entry.visibility} (${ours}; the platform's own compression: ${platform})`;
}

async function load() {
  const site = $("site").value;
  try {
    const page = await send("audit", { site, limit: PAGE });
    const known = new Set([...$("site").options].map((option) => option.value));
    for (const name of page.sites) {
      if (!known.has(name)) $("site").append(new Option(name, name));
    }
    $("summary").textContent = `${countOf(page.total, "upload")}${site ? ` to ${site}` : ""}` +
      (page.total > page.items.length ? `, newest ${formatNumber(page.items.length)} shown` : "");
    $("entries").replaceChildren(...page.items.map((entry) => card(entry, page.keepOriginals)));
    $("notice").hidden = true;
  } catch (error) {
    $("notice").textContent = `Cannot read the audit log: ${error.message}`;
    $("notice").hidden = false;
  }
}

const wanted = new URLSearchParams(location.search).get("site");
if (wanted) $("site").append(new Option(wanted, wanted, true, true));
$("site").addEventListener("change", load);
load();
