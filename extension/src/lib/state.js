// The service worker's state: kept in storage.local (settings, token, the cached policies, so
// that routing fails closed even when Veil is down) and storage.session (the current problem),
// reloaded whenever the worker wakes.

import * as ext from "./ext.js";
import { ControlApi, DEFAULT_API_PORT, VeilRefused, VeilUnreachable } from "./api.js";
import { isRouted, pacScript } from "./routing.js";

export const DEFAULT_PROXY_PORT = 8350;
export const DEFAULT_POLICY = Object.freeze({
  filters: ["metadata", "pfgsm"],
  strength: "invisible",
  profile: "facebook",
  faces: "all",
  on_failure: "block",
});
const COLORS = { ok: "#1b5e20", problem: "#b00020" };

let cache = null;

/** Settings and cached figures, loaded once per wake of the worker. */
export async function load() {
  if (cache === null) {
    const stored = await ext.getLocal(null);
    cache = {
      apiPort: DEFAULT_API_PORT,
      proxyPort: DEFAULT_PROXY_PORT,
      token: "",
      policies: [],
      defaults: { ...DEFAULT_POLICY },
      protectedCount: 0,
      // Last known figures and choices, shown (marked as such) while Veil is down.
      siteStats: [],
      knownFilters: [],
      knownStrengths: [],
      knownZones: null, // {zones, start_time} as Veil last answered (null: not yet)
      blockedSeen: null,
      ...stored,
    };
    // Defaults saved before a policy field existed take that field's default.
    cache.defaults = { ...DEFAULT_POLICY, ...cache.defaults };
  }
  return cache;
}

export async function save(changes) {
  Object.assign(await load(), changes);
  await ext.setLocal(changes);
}

export async function client() {
  const state = await load();
  return new ControlApi(state.apiPort, state.token);
}

export async function problem() {
  return (await ext.getSession("problem")).problem || null;
}

export async function setProblem(kind, message, site = "") {
  await ext.setSession({ problem: { kind, message, site, time: new Date().toISOString() } });
  await updateBadge();
}

async function clearProblem(...kinds) {
  const current = await problem();
  if (current && kinds.includes(current.kind)) await ext.removeSession("problem");
}

/** Chromium: a PAC script over the cached policies (Firefox asks proxyFor per request). */
export async function applyRouting() {
  if (ext.perRequestProxy) return;
  const { policies, proxyPort } = await load();
  await ext.setPacScript(policies.length ? pacScript(policies, proxyPort) : null);
}

/** Firefox's proxy.onRequest answer for one URL's host. */
export async function proxyFor(host) {
  const { policies, proxyPort } = await load();
  return isRouted(policies, host) ? { type: "http", host: "127.0.0.1", port: proxyPort } : { type: "direct" };
}

export async function updateBadge() {
  const [state, current] = [await load(), await problem()];
  if (current && current.kind !== "blocked") {
    ext.setBadge("!", COLORS.problem, `Veil: ${current.message}`);
  } else if (!state.token) {
    ext.setBadge("", COLORS.problem, "Veil: not paired yet; open the options to pair");
  } else {
    const count = state.protectedCount;
    ext.setBadge(count ? String(count) : "", COLORS.ok, `Veil: ${count} uploads protected`);
  }
}

/** Ask Veil for policies and figures; record what went wrong when it cannot answer. */
export async function refresh() {
  const state = await load();
  if (!state.token) {
    await updateBadge();
    return false;
  }
  const api = await client();
  try {
    const [policies, stats, health] = await Promise.all([api.policies(), api.stats(), api.health()]);
    await save({ policies, protectedCount: stats.by_outcome.protected, siteStats: stats.sites });
    await applyRouting();
    await clearProblem("down", "unpaired");
    await noticeTrust(health.trust);
    await noticeBlocked(api, stats.by_outcome.blocked);
    await updateBadge();
    return true;
  } catch (error) {
    if (error instanceof VeilUnreachable) {
      const current = await problem(); // keep the more telling message of a failed upload
      if (!current || current.kind !== "down") {
        await setProblem("down", "Veil is not running: uploads to protected sites are held " +
          "back (nothing is sent unprotected) until you start it with `veil run`.");
      }
    } else if (error instanceof VeilRefused && (error.status === 401 || error.status === 403)) {
      await setProblem("unpaired", `Veil refused this extension (${error.message}): pair again in the options.`);
    } else {
      throw error;
    }
    return false;
  }
}

/** Veil signs with a new CA (a newly protected site fell outside the old one's names): until
 * the user trusts it, the browser refuses every protected site with a certificate error. */
async function noticeTrust(trust) {
  if (trust && trust.renew) {
    await setProblem("trust", "Veil has a new certificate for the protected sites. Run " +
      `\`${trust.command}\` once, so that this browser trusts it: until then those sites ` +
      "fail with a certificate error, and nothing is sent unprotected.");
  } else {
    await clearProblem("trust");
  }
}

async function noticeBlocked(api, blocked) {
  const seen = (await load()).blockedSeen;
  await save({ blockedSeen: blocked });
  if (seen === null || blocked <= seen) return;
  const { items } = await api.audit({ limit: Math.min(blocked - seen, 20) });
  for (const entry of items.filter((item) => item.outcome === "blocked").reverse()) {
    const message = `Veil blocked an upload to ${entry.site}: ${entry.reason || "protection failed"}`;
    await ext.notify(`veil-blocked-${entry.id}`, "Upload blocked", message);
    await setProblem("blocked", message, entry.site);
  }
}

/** A request to a protected host failed: if the proxy was unreachable, say so (and answer
 * true, so that a page can say it too). */
export async function requestFailed(host, error) {
  if (!isRouted((await load()).policies, host)) return false;
  if (!/PROXY|TUNNEL|NS_ERROR_CONNECTION_REFUSED/i.test(error)) return false;
  const message = `Veil is not running, so ${host} was not contacted and nothing was sent ` +
    "unprotected. Start Veil (`veil run`) and try again.";
  const current = await problem();
  const fresh = !current || current.kind !== "down" || current.site !== host ||
    Date.now() - Date.parse(current.time) > 30000;
  await setProblem("down", message, host);
  if (fresh) await ext.notify(`veil-down-${host}`, "Upload held back", message);
  return true;
}

/** The filters and strengths Veil offers: asked while it runs, the last known ones otherwise. */
export async function choices(running) {
  if (running) {
    const api = await client();
    const [knownFilters, knownStrengths] = await Promise.all([api.filters(), api.strengths()]);
    await save({ knownFilters, knownStrengths });
  }
  const { knownFilters, knownStrengths } = await load();
  return { filters: knownFilters, strengths: knownStrengths };
}

/** The privacy zones: asked while Veil runs, the last known ones (or null) otherwise. */
export async function zones(running) {
  if (running) await save({ knownZones: await (await client()).zones() });
  return (await load()).knownZones;
}

/** Replace the privacy zones in Veil; keep what it stored as the last known. */
export async function setZones(body) {
  const knownZones = await (await client()).putZones(body);
  await save({ knownZones });
  return knownZones;
}

/** For the pages: where things stand. */
export async function status() {
  const running = await refresh();
  const state = await load();
  return {
    paired: Boolean(state.token),
    running,
    apiPort: state.apiPort,
    proxyPort: state.proxyPort,
    protectedCount: state.protectedCount,
    problem: await problem(),
  };
}
