// The popup: the current tab's site, whether its uploads are protected, and its policy.

import { send } from "./lib/ext.js";
import { showWhoseFaces } from "./lib/faces.js";
import { showStrengths } from "./lib/strengths.js";

const $ = (id) => document.getElementById(id);
// Opened as a tab (tests, keyboard users): ?tabId=N names the tab to describe.
const tabId = new URLSearchParams(location.search).get("tabId");
let view = null;

function showNotice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function currentPolicy() {
  return view.policy || { site: view.host, enabled: false, ...view.defaults };
}

function render() {
  const { host, policy, status } = view;
  if (!status.paired) showNotice("Not paired with Veil yet: open Options and enter the pairing code that `veil run` printed.");
  else if (status.problem) showNotice(status.problem.message);
  else showNotice("");
  $("nosite").hidden = Boolean(host);
  $("site").hidden = !host;
  if (!host) return;
  const shown = currentPolicy();
  const on = Boolean(policy && policy.enabled);
  $("host").textContent = host;
  $("state").textContent = on ? "protected" : "not protected";
  $("state").className = on ? "ok" : "off";
  $("under").textContent = policy && policy.site !== host ? ` (policy for ${policy.site})` : "";
  $("toggle").checked = on;
  $("toggle").disabled = !status.running;
  $("filters").replaceChildren(
    ...view.filters.map((filter) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = filter.name;
      box.checked = shown.filters.includes(filter.name);
      box.disabled = !on;
      box.addEventListener("change", changeFilters);
      label.title = box.title = filter.description; // on the box too: read out with its name
      label.append(box, filter.name);
      return label;
    }),
  );
  showStrengths($("strength"), $("strength-hint"), view.strengths, shown.strength);
  $("strength").disabled = !on;
  showWhoseFaces($("faces"), shown.faces);
  $("faces").disabled = !on;
  $("count").textContent = `${view.protectedHere} upload${view.protectedHere === 1 ? "" : "s"} protected here`;
  $("audit-link").href = `audit.html?site=${encodeURIComponent(policy ? policy.site : host)}`;
}

async function update(changes) {
  try {
    await send("setPolicy", { site: currentPolicy().site, changes });
    await load();
  } catch (error) {
    showNotice(`Could not change the policy: ${error.message}`);
    await load(false);
  }
}

function changeFilters() {
  const filters = [...$("filters").querySelectorAll("input:checked")].map((box) => box.value);
  if (filters.length) update({ filters });
  else showNotice("Keep at least one filter, or switch protection off.");
}

async function load(clearNotice = true) {
  try {
    view = await send("site", { tabId });
    render();
    document.body.dataset.ready = "true";
  } catch (error) {
    if (clearNotice) showNotice(`Veil's extension could not load: ${error.message}`);
  }
}

$("toggle").addEventListener("change", () => update({ enabled: $("toggle").checked }));
$("strength").addEventListener("change", () => update({ strength: $("strength").value }));
$("faces").addEventListener("change", () => update({ faces: $("faces").value }));
load();
