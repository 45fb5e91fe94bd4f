// Which hosts go through Veil: the same rule as proxy/policies.py (exact host, or *.domain for
// the domain and its subdomains; the most specific policy wins, a disabled one shadows wider
// ones). Pure functions: no browser API here.

/** Lower-case host without a trailing dot or port. */
export function normalizeHost(host) {
  return String(host || "").trim().toLowerCase().replace(/\.$/, "").replace(/:\d+$/, "");
}

/** True when the host falls under the site pattern. */
export function siteMatches(site, host) {
  host = normalizeHost(host);
  if (site.startsWith("*.")) {
    const base = site.slice(2);
    return host === base || host.endsWith("." + base);
  }
  return host === site;
}

/** The most specific policy for the host (exact hosts first, then the longest domain). */
export function bestPolicy(policies, host) {
  let best = null;
  for (const policy of policies) {
    if (!siteMatches(policy.site, host)) continue;
    if (best === null || rank(policy.site) > rank(best.site)) best = policy;
  }
  return best;
}

function rank(site) {
  return (site.startsWith("*.") ? 0 : 100000) + site.length;
}

/** Does Veil protect uploads to this host? */
export function isRouted(policies, host) {
  const policy = bestPolicy(policies, host);
  return Boolean(policy && policy.enabled);
}

/** The host of an http(s) URL, or "" for anything else (extension pages, about:, files). */
export function hostOf(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:"
      ? normalizeHost(parsed.hostname)
      : "";
  } catch {
    return "";
  }
}

/**
 * A PAC script that sends exactly the protected hosts to Veil's proxy and the rest direct.
 * No "; DIRECT" fallback: when Veil is down, protected uploads fail instead of leaking.
 * PAC runs in a bare ES5 sandbox, so the rule is written out again in ES5 here.
 */
export function pacScript(policies, proxyPort) {
  const table = policies.map((p) => [p.site, Boolean(p.enabled)]);
  return [
    `var POLICIES = ${JSON.stringify(table)};`,
    `var PROXY = "PROXY 127.0.0.1:${Number(proxyPort)}";`,
    "function rank(site) { return (site.indexOf('*.') === 0 ? 0 : 100000) + site.length; }",
    "function matches(site, host) {",
    "  if (site.indexOf('*.') !== 0) return host === site;",
    "  var base = site.substring(2);",
    "  return host === base || (host.length > base.length &&",
    "    host.substring(host.length - base.length - 1) === '.' + base);",
    "}",
    "function FindProxyForURL(url, host) {",
    "  host = host.toLowerCase().replace(/\\.$/, '');",
    "  var best = null;",
    "  for (var i = 0; i < POLICIES.length; i++) {",
    "    if (matches(POLICIES[i][0], host) && (best === null || rank(POLICIES[i][0]) > rank(best[0]))) {",
    "      best = POLICIES[i];",
    "    }",
    "  }",
    "  return best !== null && best[1] ? PROXY : 'DIRECT';",
    "}",
  ].join("\n");
}
