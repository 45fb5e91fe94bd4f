// Options: pairing, the protected sites, the default policy for new ones, the privacy zones.

import { send } from "./lib/ext.js";
import { showWhoseFaces } from "./lib/faces.js";
import { formatCoordinate, formatNumber, parseDecimal, parsePoint } from "./lib/format.js";
import { showStrengths, strengthName } from "./lib/strengths.js";

const $ = (id) => document.getElementById(id);
// A zone's strength when none is chosen: Veil's own default (activities/zones.py).
const DEFAULT_ZONE_STRENGTH = "strongest";
let view = null;

function showNotice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

function siteRow(policy, editable) {
  const row = document.createElement("tr");
  const enabled = document.createElement("input");
  enabled.type = "checkbox";
  enabled.checked = policy.enabled;
  enabled.disabled = !editable;
  enabled.setAttribute("aria-label", `Protect ${policy.site}`);
  enabled.addEventListener("change", () => act("setPolicy", { site: policy.site, changes: { enabled: enabled.checked } }));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Remove";
  remove.disabled = !editable;
  remove.setAttribute("aria-label", `Remove ${policy.site}`);
  remove.addEventListener("click", () => act("deletePolicy", { site: policy.site }));
  const count = cell(formatNumber(view.counts[policy.site] || 0));
  count.className = "number";
  row.append(cell(policy.site), cell(enabled), cell(policy.filters.join(", ")), cell(strengthName(policy.strength, view.strengths)), count, cell(remove));
  return row;
}

function pairState(status) {
  if (!status.paired) return "Not paired.";
  if (status.running) return `Paired with Veil on port ${view.apiPort}.`;
  return `Paired, but Veil does not answer on port ${view.apiPort}.`;
}

function render() {
  const { status } = view;
  $("api-port").value = view.apiPort;
  $("pair-state").textContent = pairState(status);
  showNotice(status.problem && status.problem.kind !== "blocked" ? status.problem.message : "");
  // Before pairing, only pairing: the sites and defaults appear once Veil is paired.
  for (const id of ["sites-section", "defaults-section", "zones-section"]) $(id).hidden = !status.paired;
  $("links").hidden = !status.paired || !status.running; // the audit is Veil's to read
  $("after-pairing").hidden = status.paired;
  if (status.paired) renderSites(status.running);
  if (status.paired) renderZones(status.running);
  renderDefaults();
}

/** The sites Veil protects; while it does not answer, the last known ones, unchangeable. */
function renderSites(running) {
  $("sites-state").textContent = running
    ? ""
    : "Veil is not running: these are the last known sites and counts. Start Veil (veil run) to change them.";
  $("sites-state").hidden = running;
  $("sites").replaceChildren(...view.policies.map((policy) => siteRow(policy, running)));
  $("add-fields").disabled = !running;
}

function renderDefaults() {
  const { defaults } = view;
  // Before Veil answers, the defaults' own names (with no description to show).
  const known = view.filters.length ? view.filters : defaults.filters.map((name) => ({ name, description: "" }));
  $("default-filters").replaceChildren(
    ...known.map(({ name, description }) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = name;
      box.checked = defaults.filters.includes(name);
      label.title = box.title = description; // on the box too: read out with its name
      label.append(box, name);
      return label;
    }),
  );
  showStrengths($("default-strength"), $("default-strength-hint"), view.strengths, defaults.strength);
  $("default-profile").value = defaults.profile;
  showWhoseFaces($("default-faces"), defaults.faces);
  $("default-failure").value = defaults.on_failure;
}

// By its name and point: a click on a row already gone removes nothing else.
const sameZone = (a, b) => a.name === b.name && a.latitude === b.latitude && a.longitude === b.longitude;

function zoneRow(zone, editable) {
  const row = document.createElement("tr");
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Remove";
  remove.disabled = !editable;
  remove.setAttribute("aria-label", `Remove zone ${zone.name}`);
  remove.addEventListener("click", () =>
    changeZones((known) => ({ ...known, zones: known.zones.filter((other) => !sameZone(other, zone)) })),
  );
  const numbers = [formatCoordinate(zone.latitude), formatCoordinate(zone.longitude), formatNumber(zone.radius_m)].map(
    (text) => Object.assign(cell(text), { className: "number" }),
  );
  row.append(cell(zone.name), ...numbers, cell(zone.strength ?? DEFAULT_ZONE_STRENGTH), cell(remove));
  return row;
}

/** Veil's privacy zones; while it does not answer, the last known ones, unchangeable. */
function renderZones(running) {
  const { known, error } = view.zones;
  const editable = running && !error;
  let state = "";
  if (!running) {
    state = known
      ? "Veil is not running: these are the last known zones. Start Veil (veil run) to change them."
      : "Veil is not running, and its zones are not known here yet. Start Veil (veil run) to see and change them.";
  } else if (error) {
    state = `Veil did not give its zones (${error})${known ? ": these are the last known." : "."}`;
  }
  $("zones-state").textContent = state;
  $("zones-state").hidden = !state;
  const zones = known ? known.zones : [];
  $("zones").replaceChildren(...zones.map((zone) => zoneRow(zone, editable)));
  $("zones-table").hidden = !zones.length;
  $("no-zones").hidden = !known || zones.length > 0;
  $("zone-fields").disabled = !editable;
  $("start-time").value = known ? known.start_time : "minute";
  $("start-time").disabled = !editable;
}

function showZonesError(text) {
  $("zones-error").textContent = text || "";
  $("zones-error").hidden = !text;
}

// Zone changes one after another, each on the list the one before it stored.
let zoneWrites = Promise.resolve(true);

/** Store `edit(known)` (the zones and start time) in Veil; true when Veil took it. */
function changeZones(edit) {
  const write = zoneWrites.then(async () => {
    try {
      await send("setZones", { settings: edit(view.zones.known || { zones: [], start_time: "minute" }) });
      showZonesError("");
      return true;
    } catch (error) {
      showZonesError(error.message);
      return false;
    } finally {
      await load().catch((error) => showNotice(error.message));
    }
  });
  zoneWrites = write.catch(() => false);
  return write;
}

/** The point in the form: a pasted "lat, lon" split into its fields first. */
function zonePoint() {
  for (const id of ["zone-latitude", "zone-longitude"]) splitPoint($(id).value);
  const latitude = parseDecimal($("zone-latitude").value);
  const longitude = parseDecimal($("zone-longitude").value);
  if (Number.isNaN(latitude)) {
    return `Latitude: a number such as ${formatCoordinate(51.50135)} (or paste 51.50135, -0.14189).`;
  }
  if (Number.isNaN(longitude)) return `Longitude: a number such as ${formatCoordinate(-0.14189)}.`;
  return { latitude, longitude };
}

/** "51.50135, -0.14189" in either field goes into both; true when it did. */
function splitPoint(text) {
  const point = parsePoint(text);
  if (!point) return false;
  $("zone-latitude").value = String(point.latitude);
  $("zone-longitude").value = String(point.longitude);
  return true;
}

async function load() {
  view = await send("options");
  render();
}

async function act(type, args) {
  try {
    await send(type, args);
    await load();
  } catch (error) {
    await load().catch(() => {});
    showNotice(error.message);
  }
}

$("pair-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await send("pair", { apiPort: $("api-port").value, code: $("code").value });
    $("code").value = "";
    await load();
  } catch (error) {
    showNotice(`Pairing failed: ${error.message}`);
  }
});

$("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  await act("addSite", { site: $("new-site").value });
  $("new-site").value = "";
});

// The examples in the browser's language (the tip's pasted point stays as maps copy it).
$("zone-latitude").placeholder = formatCoordinate(51.50135);
$("zone-longitude").placeholder = formatCoordinate(-0.14189);

$("zone-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const point = zonePoint();
  if (typeof point === "string") return showZonesError(point);
  const radius = $("zone-radius").value;
  if (radius === "") return showZonesError("Radius: a number of metres, such as 500.");
  const zone = {
    name: $("zone-name").value.trim(),
    ...point,
    radius_m: Number(radius),
    strength: $("zone-strength").value,
  };
  const taken = (view.zones.known ? view.zones.known.zones : []).some((other) => other.name === zone.name);
  if (taken) return showZonesError(`There is a zone called ${zone.name} already: choose another name.`);
  const added = await changeZones((known) => ({ ...known, zones: [...known.zones, zone] }));
  if (!added) return;
  for (const id of ["zone-name", "zone-latitude", "zone-longitude"]) $(id).value = "";
  $("zone-radius").value = "500";
  $("zone-strength").value = DEFAULT_ZONE_STRENGTH;
});

for (const id of ["zone-latitude", "zone-longitude"]) {
  $(id).addEventListener("paste", (event) => {
    if (!splitPoint(event.clipboardData.getData("text"))) return;
    event.preventDefault();
    $("zone-radius").focus();
  });
  $(id).addEventListener("change", () => splitPoint($(id).value));
}

$("start-time").addEventListener("change", () =>
  changeZones((known) => ({ ...known, start_time: $("start-time").value })),
);

$("default-strength").addEventListener("change", () =>
  showStrengths($("default-strength"), $("default-strength-hint"), view.strengths, $("default-strength").value),
);

$("defaults-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const filters = [...$("default-filters").querySelectorAll("input:checked")].map((box) => box.value);
  act("setDefaults", {
    defaults: {
      filters,
      strength: $("default-strength").value,
      profile: $("default-profile").value,
      faces: $("default-faces").value,
      on_failure: $("default-failure").value,
    },
  });
});

load().catch((error) => showNotice(error.message));
