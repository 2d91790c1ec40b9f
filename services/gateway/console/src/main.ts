/**
 * The console's entry point: the API key (pasted once, kept in this browser's localStorage, sent
 * only to this gateway) and the hash router — `#/` the sessions list, `#/sessions/<id>` a session.
 */
import { Api, ApiError } from "./api.js";
import { h } from "./dom.js";
import { renderSession } from "./session.js";
import { renderSessions } from "./sessions.js";

const KEY_STORAGE = "tendon.console.apiKey";

const app = document.getElementById("app") as HTMLElement;
const keyArea = document.getElementById("key-area") as HTMLElement;
let dispose: (() => void) | undefined;

function storedKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function forgetKey(): void {
  localStorage.removeItem(KEY_STORAGE);
  route();
}

function onAuthError(e: ApiError): void {
  dispose?.();
  dispose = undefined;
  showKeyForm(`The API key was refused (${e.status}): ${e.message}`);
}

function showKeyForm(error?: string): void {
  keyArea.replaceChildren();
  const input = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    placeholder: "API key",
    "aria-label": "API key",
    required: true,
  });
  const msg = h("p", { class: "notice error", id: "key-error", hidden: !error }, error ?? "");
  const form = h(
    "form",
    {
      id: "key-form",
      class: "card",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const key = input.value.trim();
        if (!key) return;
        try {
          await new Api(key).listSessions({ limit: 1 });
        } catch (e) {
          msg.hidden = false;
          msg.textContent =
            e instanceof ApiError ? `The API key was refused (${e.status}): ${e.message}` : String(e);
          return;
        }
        localStorage.setItem(KEY_STORAGE, key);
        route();
      },
    },
    h("h1", {}, "Connect to Tendon"),
    h(
      "p",
      {},
      "Paste an API key (",
      h("code", {}, "tendon keys create"),
      " mints one; ",
      h("code", {}, "pnpm dev"),
      " prints one). It is kept in this browser only and sent only to this gateway.",
    ),
    input,
    h("button", { type: "submit", id: "save-key", class: "primary" }, "Connect"),
    msg,
  );
  app.replaceChildren(form);
  input.focus();
}

function route(): void {
  dispose?.();
  dispose = undefined;
  const key = storedKey();
  if (!key) {
    showKeyForm();
    return;
  }
  keyArea.replaceChildren(
    h("span", { class: "dim", id: "key-hint" }, `key …${key.slice(-4)}`),
    h("button", { type: "button", id: "forget-key", onclick: forgetKey }, "Forget key"),
  );
  const api = new Api(key);
  const m = /^#\/sessions\/([A-Za-z0-9_-]+)/.exec(location.hash);
  if (m?.[1]) {
    document.title = `${m[1]} · Tendon console`;
    dispose = renderSession(app, api, m[1], onAuthError);
  } else {
    document.title = "Sessions · Tendon console";
    dispose = renderSessions(app, api, onAuthError);
  }
}

window.addEventListener("hashchange", route);
route();
