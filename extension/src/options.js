// Options: pairing, the protected sites, and the default policy for new ones.

import { send } from "./lib/ext.js";
import { showWhoseFaces } from "./lib/faces.js";
import { formatNumber } from "./lib/format.js";
import { showStrengths, strengthName } from "./lib/strengths.js";

const $ = (id) => document.getElementById(id);
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
  for (const id of ["sites-section", "defaults-section"]) $(id).hidden = !status.paired;
  $("links").hidden = !status.paired || !status.running; // the audit is Veil's to read
  $("after-pairing").hidden = status.paired;
  if (status.paired) renderSites(status.running);
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
