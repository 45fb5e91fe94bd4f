// The popup: the current tab's site, whether its uploads are protected, and its policy.

import { send } from "./lib/ext.js";
import { showWhoseFaces } from "./lib/faces.js";
import { countOf } from "./lib/format.js";
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
  const { host, status } = view;
  showNotice(status.paired && status.problem ? status.problem.message : "");
  // Before pairing, only pairing: nothing else here can work yet.
  $("pair-first").hidden = status.paired;
  $("audit-link").hidden = !status.paired || !status.running; // the audit is Veil's to read
  $("options-link").hidden = !status.paired;
  $("nosite").hidden = !status.paired || Boolean(host);
  $("site").hidden = !status.paired || !host;
  if (status.paired && host) renderSite();
}

function renderSite() {
  const { host, policy, status } = view;
  const shown = currentPolicy();
  const on = Boolean(policy && policy.enabled);
  // Every change is Veil's to make: while it does not answer, the controls stay in view, disabled.
  const editable = status.running;
  $("host").textContent = host;
  $("state").textContent = on ? "protected" : "not protected";
  $("held").hidden = !on || editable;
  $("state").className = on ? "ok" : "off";
  $("under").textContent = policy && policy.site !== host ? ` (policy for ${policy.site})` : "";
  $("toggle").checked = on;
  $("toggle").disabled = !editable;
  $("filters").replaceChildren(...filterChoices(shown).map((filter) => filterBox(filter, shown, on && editable)));
  showStrengths($("strength"), $("strength-hint"), view.strengths, shown.strength);
  $("strength").disabled = !on || !editable;
  showWhoseFaces($("faces"), shown.faces);
  $("faces").disabled = !on || !editable;
  $("count").textContent = countText(view.protectedHere, status);
  $("audit-link").href = `audit.html?site=${encodeURIComponent(policy ? policy.site : host)}`;
}

/** Veil's filters; before Veil ever answered, at least the policy's own (no description). */
function filterChoices(shown) {
  return view.filters.length ? view.filters : shown.filters.map((name) => ({ name, description: "" }));
}

function filterBox(filter, shown, enabled) {
  const label = document.createElement("label");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.value = filter.name;
  box.checked = shown.filters.includes(filter.name);
  box.disabled = !enabled;
  box.addEventListener("change", changeFilters);
  label.title = box.title = filter.description; // on the box too: read out with its name
  label.append(box, filter.name);
  return label;
}

/** "2 uploads protected here", marked when it is the last count Veil gave. */
function countText(count, status) {
  const text = `${countOf(count, "upload")} protected here`;
  if (status.running) return text;
  const refused = status.problem && status.problem.kind === "unpaired";
  return `${text} · last known, ${refused ? "Veil refused this browser" : "Veil is not running"}`;
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
