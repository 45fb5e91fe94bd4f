// Veil's service worker: routes protected sites to Veil's proxy, keeps the badge, notifies,
// and answers the popup, options and audit pages (the only callers of the control API).

import * as ext from "./lib/ext.js";
import { ControlApi } from "./lib/api.js";
import { bestPolicy, hostOf, normalizeHost, siteMatches } from "./lib/routing.js";
import * as state from "./lib/state.js";

const POLICY_FIELDS = ["enabled", "filters", "strength", "on_failure", "profile", "faces"];
const UPLOAD_METHODS = new Set(["POST", "PUT", "PATCH"]);
// Veil measures a protected photo for its audit after the upload has left: look again a
// little later, when the row is there (a 12 MP photo takes a second or two).
const AUDIT_AGAIN_MS = [2000, 8000];
// Veil's own answer when it blocks an upload (proxy/outcomes.py): 403 with this header.
const BLOCKED_HEADER = "x-veil-blocked";

// Listeners at top level: an MV3 worker is woken by the event and must find them registered.
ext.onStart(() => state.applyRouting().then(state.refresh).catch(console.warn));
ext.everyMinute("refresh", () => state.refresh().catch(console.warn));
if (ext.perRequestProxy) ext.onProxyRequest((details) => state.proxyFor(hostOf(details.url)));
ext.onRequestDone(
  (details) =>
    state.requestFailed(hostOf(details.url), details.error)
      .then((veilDown) => veilDown && showStopped(details, { why: "down" }))
      .catch(console.warn),
  (details) => {
    if (!UPLOAD_METHODS.has(details.method)) return;
    state.refresh().catch(console.warn);
    for (const delay of AUDIT_AGAIN_MS) setTimeout(() => state.refresh().catch(console.warn), delay);
  },
);
ext.onPageLoaded((details) => {
  const refusal = veilRefusal(details.responseHeaders);
  if (refusal !== null) showStopped(details, { why: "blocked", reason: refusal }).catch(console.warn);
});
ext.onMessage((request) => {
  const handler = HANDLERS[request && request.type];
  if (!handler) return Promise.reject(new Error(`unknown request ${request && request.type}`));
  return handler(request);
});

/** Why Veil blocked the page's request (its header), or null when Veil did not. */
function veilRefusal(headers) {
  const found = (headers || []).find((header) => header.name.toLowerCase() === BLOCKED_HEADER);
  return found ? found.value || "protection failed" : null;
}

/** A page (a form post, a link) to a protected site was stopped: instead of the browser's
 * bare error or Veil's plain-text refusal, the tab shows Veil's page saying why and what to do. */
function showStopped(details, params) {
  if (details.type !== "main_frame" || details.tabId < 0) return Promise.resolve();
  // Where "back" goes: the page again for a plain visit, the page that sent a form otherwise.
  const back = details.method === "GET" ? details.url : details.originUrl || details.initiator || "";
  const query = new URLSearchParams({ ...params, site: hostOf(details.url), back });
  return ext.showInTab(details.tabId, `blocked.html?${query}`);
}

function policyBody(policy) {
  return Object.fromEntries(POLICY_FIELDS.filter((key) => key in policy).map((key) => [key, policy[key]]));
}

async function pair({ apiPort, code }) {
  const port = Number(apiPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error("the API port must be 1-65535");
  const paired = await new ControlApi(port).pair(String(code || ""));
  await state.save({ apiPort: port, token: paired.token, proxyPort: paired.proxy_port || state.DEFAULT_PROXY_PORT, blockedSeen: null });
  return state.status();
}

async function unpair() {
  await state.save({ token: "" });
  return state.status();
}

/** The popup's view of one tab's site. */
async function site({ tabId }) {
  const host = hostOf(await ext.tabUrl(tabId));
  const status = await state.status();
  const { policies, defaults, siteStats } = await state.load();
  const policy = host ? bestPolicy(policies, host) : null;
  const { filters, strengths } = await choicesNow(status);
  const protectedHere = protectedUnder(siteStats, policy ? policy.site : host);
  return { host, policy, defaults, filters, strengths, protectedHere, status };
}

/** Uploads protected under a site, as of Veil's last answer (status() has just asked it;
 * while Veil is down, the pages mark the count as the last known). */
function protectedUnder(siteStats, site) {
  return siteStats.filter((entry) => siteMatches(site, entry.site)).reduce((sum, entry) => sum + entry.protected, 0);
}

/** The filters and strengths to offer: Veil's own, or the last known when it cannot answer. */
function choicesNow(status) {
  return state.choices(status.running).catch(() => state.choices(false));
}

/** The privacy zones to show: Veil's, or the last known (null: none yet) with why not. */
function zonesNow(status) {
  return state.zones(status.running).then(
    (known) => ({ known, error: "" }),
    async (error) => ({ known: await state.zones(false), error: error.message }),
  );
}

/** Change a site's policy (created from the defaults when it has none). */
// Policy changes one after another: each merges into the policy the one before it saved.
// Run side by side, a quick second change merged into the stale copy and undid the first.
let policyWrites = Promise.resolve();

function setPolicy(request) {
  const write = policyWrites.then(() => writePolicy(request));
  policyWrites = write.catch(() => {});
  return write;
}

async function writePolicy({ site, changes }) {
  const { policies, defaults } = await state.load();
  const current = policies.find((policy) => policy.site === site) || { enabled: true, ...defaults };
  const saved = await (await state.client()).putPolicy(site, policyBody({ ...current, ...changes }));
  await state.refresh();
  return saved;
}

async function deletePolicy({ site }) {
  await (await state.client()).deletePolicy(site);
  await state.refresh();
  return null;
}

async function setDefaults({ defaults }) {
  const clean = policyBody(defaults);
  delete clean.enabled;
  if (!Array.isArray(clean.filters) || !clean.filters.length) throw new Error("choose at least one filter");
  await state.save({ defaults: { ...state.DEFAULT_POLICY, ...clean } });
  return (await state.load()).defaults;
}

const HANDLERS = {
  status: () => state.status(),
  pair,
  unpair,
  site,
  setPolicy,
  deletePolicy,
  setDefaults,
  setZones: ({ settings }) => state.setZones(settings), // {zones, start_time}
  options: async () => {
    const status = await state.status();
    const { apiPort, defaults, policies, siteStats } = await state.load();
    const { filters, strengths } = await choicesNow(status);
    const counts = Object.fromEntries(policies.map((policy) => [policy.site, protectedUnder(siteStats, policy.site)]));
    const zones = await zonesNow(status);
    return { apiPort, defaults, policies, counts, filters, strengths, zones, status };
  },
  addSite: ({ site }) => setPolicy({ site: normalizeHost(site), changes: {} }),
  audit: async ({ site, limit }) => {
    const api = await state.client();
    const [page, stats, health] = await Promise.all([api.audit({ site, limit }), api.stats(), api.health()]);
    const sites = stats.sites.map((entry) => entry.site);
    return { ...page, sites, keepOriginals: health.keep_originals === true }; // offer each original
  },
  thumbnail: async ({ id, which }) => (await state.client()).thumbnail(id, which),
  original: async ({ id }) => (await state.client()).original(id),
};
