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
manifest.browser_specific_settings = {
  gecko: {
    id: "veil@veil-privacy.invalid",
    strict_min_version: "142.0",
    data_collection_permissions: { required: ["none"] },
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(source, out, { recursive: true, filter: (path) => !path.endsWith("manifest.json") });
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`Firefox build written to ${out}`);
