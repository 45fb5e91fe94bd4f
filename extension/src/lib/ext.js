// The one module that calls the browser's extension APIs (storage, runtime, action, proxy,
// notifications, tabs, alarms, webRequest), for Chromium (chrome.*) and Firefox (browser.*).

const api = globalThis.browser ?? globalThis.chrome;

/** Firefox routes per request (proxy.onRequest); Chromium takes a PAC script. */
export const perRequestProxy = Boolean(globalThis.browser && api.proxy && api.proxy.onRequest);

export const getLocal = (keys) => api.storage.local.get(keys);
export const setLocal = (items) => api.storage.local.set(items);
export const removeLocal = (keys) => api.storage.local.remove(keys);
export const getSession = (keys) => api.storage.session.get(keys);
export const setSession = (items) => api.storage.session.set(items);
export const removeSession = (keys) => api.storage.session.remove(keys);

export const pageUrl = (path) => api.runtime.getURL(path);

/** From a page: ask the service worker; its answer is {ok, value} or {ok: false, error}. */
export async function send(type, args = {}) {
  const answer = await api.runtime.sendMessage({ type, ...args });
  if (!answer || !answer.ok) throw new Error(answer ? answer.error : "Veil's extension did not answer");
  return answer.value;
}

/** In the service worker: one handler for every message; only our own pages may send. */
export function onMessage(handler) {
  api.runtime.onMessage.addListener((request, sender, sendResponse) => {
    const own = sender.id === api.runtime.id && String(sender.url || "").startsWith(pageUrl(""));
    const work = own
      ? handler(request, sender)
      : Promise.reject(new Error("messages are accepted from Veil's own pages only"));
    work.then(
      (value) => sendResponse({ ok: true, value }),
      (error) => sendResponse({ ok: false, error: String(error && error.message ? error.message : error) }),
    );
    return true; // answered asynchronously
  });
}

export function setBadge(text, color, title) {
  api.action.setBadgeText({ text });
  api.action.setBadgeBackgroundColor({ color });
  api.action.setTitle({ title });
}

export const badgeText = () => api.action.getBadgeText({});

export function notify(id, title, message) {
  return api.notifications.create(id, {
    type: "basic",
    iconUrl: pageUrl("icons/icon-128.png"),
    title,
    message,
  });
}

export async function tabUrl(tabId) {
  if (tabId !== undefined && tabId !== null) return (await api.tabs.get(Number(tabId))).url || "";
  const [tab] = await api.tabs.query({ active: true, lastFocusedWindow: true });
  return tab ? tab.url || "" : "";
}

export function openPage(path) {
  return api.tabs.create({ url: pageUrl(path) });
}

/** Show one of the extension's pages in place of what a tab shows. */
export function showInTab(tabId, path) {
  return api.tabs.update(tabId, { url: pageUrl(path) });
}

/** Chromium: route by a PAC script (null clears Veil's routing). */
export function setPacScript(data) {
  if (data === null) return api.proxy.settings.clear({ scope: "regular" });
  return api.proxy.settings.set({
    value: { mode: "pac_script", pacScript: { data, mandatory: true } },
    scope: "regular",
  });
}

/** Firefox: decide each request's proxy; the listener returns a proxy.ProxyInfo. */
export function onProxyRequest(listener) {
  api.proxy.onRequest.addListener(listener, { urls: ["<all_urls>"] });
}

export function everyMinute(name, listener) {
  api.alarms.onAlarm.addListener((alarm) => alarm.name === name && listener());
  api.alarms.create(name, { periodInMinutes: 1 });
}

export function onStart(listener) {
  api.runtime.onStartup.addListener(listener);
  api.runtime.onInstalled.addListener(listener);
}

/** Top-level pages that loaded, with their response headers (details.responseHeaders). */
export function onPageLoaded(listener) {
  const filter = { urls: ["http://*/*", "https://*/*"], types: ["main_frame"] };
  api.webRequest.onCompleted.addListener(listener, filter, ["responseHeaders"]);
}

/** Requests that failed (details.error) and that completed (details.statusCode). */
export function onRequestDone(failed, completed) {
  const filter = { urls: ["http://*/*", "https://*/*"] };
  api.webRequest.onErrorOccurred.addListener(failed, filter);
  api.webRequest.onCompleted.addListener(completed, filter);
}
