// Options: pairing, the protected sites, and the default policy for new ones.

import { send } from "./lib/ext.js";
import { showWhoseFaces } from "./lib/faces.js";
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

function siteRow(policy) {
  const row = document.createElement("tr");
  const enabled = document.createElement("input");
  enabled.type = "checkbox";
  enabled.checked = policy.enabled;
  enabled.setAttribute("aria-label", `Protect ${policy.site}`);
  enabled.addEventListener("change", () => act("setPolicy", { site: policy.site, changes: { enabled: enabled.checked } }));
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove ${policy.site}`);
  remove.addEventListener("click", () => act("deletePolicy", { site: policy.site }));
  row.append(cell(policy.site), cell(enabled), cell(policy.filters.join(", ")), cell(strengthName(policy.strength, view.strengths)), cell(remove));
  return row;
}

function render() {
  const { status, defaults } = view;
  $("api-port").value = view.apiPort;
  $("pair-state").textContent = !status.paired
    ? "Not paired."
    : status.running
      ? `Paired with Veil on port ${view.apiPort}.`
      : `Paired, but Veil does not answer on port ${view.apiPort}.`;
  showNotice(status.problem && status.problem.kind !== "blocked" ? status.problem.message : "");
  $("sites").replaceChildren(...view.policies.map(siteRow));
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
