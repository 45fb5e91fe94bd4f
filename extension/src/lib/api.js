// The one module that calls Veil's control API (http://127.0.0.1:<port>/api/v1).

export const DEFAULT_API_PORT = 8351;
const TIMEOUT_MS = 5000;

/** Veil does not answer: it is not running, or not on this port. */
export class VeilUnreachable extends Error {}

/** Veil answered with an error: status and its message. */
export class VeilRefused extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export class ControlApi {
  constructor(port, token = "") {
    this.base = `http://127.0.0.1:${Number(port)}/api/v1`;
    this.token = token;
  }

  async call(method, path, body, { raw = false } = {}) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      throw new VeilUnreachable(`Veil is not running (nothing answers at ${this.base}): ${error.message}`);
    }
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        message = (await response.json()).error || message;
      } catch {
        // not JSON: keep the status line
      }
      throw new VeilRefused(response.status, message);
    }
    if (raw) return response;
    return response.status === 204 ? null : response.json();
  }

  /** Trade the printed code for the token: {token, proxy_port, version}. */
  pair(code) {
    return this.call("POST", "/pair", { code });
  }

  health() {
    return this.call("GET", "/health");
  }

  async policies() {
    return (await this.call("GET", "/policies")).items;
  }

  putPolicy(site, policy) {
    return this.call("PUT", `/policies/${encodeURIComponent(site)}`, policy);
  }

  deletePolicy(site) {
    return this.call("DELETE", `/policies/${encodeURIComponent(site)}`);
  }

  async filters() {
    return (await this.call("GET", "/filters")).items;
  }

  async strengths() {
    return (await this.call("GET", "/strengths")).items;
  }

  stats() {
    return this.call("GET", "/stats");
  }

  /** The privacy zones for activity uploads: {zones: [{name, latitude, longitude, radius_m}],
   * start_time}. */
  zones() {
    return this.call("GET", "/zones");
  }

  /** Replace the zones (the whole list, and start_time); answers what Veil stored. */
  putZones(zones) {
    return this.call("PUT", "/zones", zones);
  }

  audit({ site = "", limit = 50, offset = 0 } = {}) {
    const query = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    if (site) query.set("site", site);
    return this.call("GET", `/audit?${query}`);
  }

  /** A thumbnail as a data: URL, so pages can show it without holding the token. */
  async thumbnail(id, which) {
    const response = await this.call("GET", `/audit/${Number(id)}/thumbnails/${which}`, undefined, {
      raw: true,
    });
    const type = response.headers.get("Content-Type") || "image/jpeg";
    return `data:${type.split(";")[0]};base64,${await base64Body(response)}`;
  }

  /** A kept original (with keep_originals on) as {name, type, base64}: a message to a page
   * carries text, not a Blob. Null when none is kept (deleted at its limit, or never kept). */
  async original(id) {
    let response;
    try {
      response = await this.call("GET", `/audit/${Number(id)}/original`, undefined, { raw: true });
    } catch (error) {
      if (error instanceof VeilRefused && error.status === 404) return null;
      throw error;
    }
    const type = (response.headers.get("Content-Type") || "application/octet-stream").split(";")[0];
    const named = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return { name: named ? named[1] : `original-${Number(id)}`, type, base64: await base64Body(response) };
  }
}

async function base64Body(response) {
  const bytes = new Uint8Array(await response.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
