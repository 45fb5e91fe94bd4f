// The page a tab shows when Veil stopped what it sent to a protected site: Veil was not
// running (why=down), or Veil blocked the upload (why=blocked, with Veil's reason).

import { send } from "./lib/ext.js";
import { hostOf } from "./lib/routing.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const why = params.get("why") === "blocked" ? "blocked" : "down";
const site = params.get("site") || "the site";

function showBack(url) {
  if (!hostOf(url)) return; // only a web page: never another scheme from the query
  $("back").href = url;
  $("back").hidden = false;
}

async function checkAgain() {
  $("check-result").textContent = "Asking Veil…";
  try {
    const status = await send("status");
    $("check-result").textContent = status.running
      ? "Veil is running now: go back and send it again."
      : "Veil still does not answer.";
  } catch (error) {
    $("check-result").textContent = `Could not ask: ${error.message}`;
  }
}

for (const node of document.querySelectorAll(".site")) node.textContent = site;
$(why).hidden = false;
$("reason").textContent = params.get("reason") || "protection failed";
$("audit-link").href = `audit.html?site=${encodeURIComponent(params.get("site") || "")}`;
$("check").addEventListener("click", checkAgain);
showBack(params.get("back") || "");
document.title = why === "down" ? "Veil is not running" : "Veil blocked this upload";
