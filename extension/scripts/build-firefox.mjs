// Writes the Firefox variant of the extension: the same files, and a manifest without
// Chromium's "key" (Firefox gives each install a random origin and pairs it instead), with
// background scripts in place of the service worker, and Firefox's own settings.
// Usage: node scripts/build-firefox.mjs [out-dir]   (default build/firefox)

import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src");
const out = resolve(process.argv[2] || join(root, "build", "firefox"));

const manifest = JSON.parse(readFileSync(join(source, "manifest.json"), "utf8"));
delete manifest.key;
delete manifest.minimum_chrome_version;
manifest.background = { scripts: [manifest.background.service_worker], type: "module" };
// Firefox 140, the ESR that Debian ships and Tor Browser builds on: data_collection_permissions
// (which addons.mozilla.org requires) needs 140 on desktop and 142 on Android. Every API the
// extension calls is older (storage.session 115, background "type" 112, action and
// host_permissions 109, proxy.onRequest 60); tests/extension/test_firefox.py drives ESR.
manifest.browser_specific_settings = {
  gecko: {
    id: "veil@veil-privacy.invalid",
    strict_min_version: "140.0",
    data_collection_permissions: { required: ["none"] },
  },
  gecko_android: { strict_min_version: "142.0" },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(source, out, { recursive: true, filter: (path) => !path.endsWith("manifest.json") });
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`Firefox build written to ${out}`);
