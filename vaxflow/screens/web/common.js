// Shared by every vaxflow page: tokens, API calls, the server clock offset, the live feed.
// Plain ES module, served by the site server; no CDN, no build step.
import { t, serverWords, LANGUAGES, LANGUAGE_NAMES, lang, setLanguage } from "/web/i18n.js";

export { t, named, nameOf, lang, addWords, serverWords } from "/web/i18n.js";

export const $ = (selector, root = document) => root.querySelector(selector);

/** Create an element: el("div", {class: "x", onclick: fn}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A request id for Idempotency-Key; crypto.getRandomValues works on plain-http LAN pages too. */
export function requestId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Where a page keeps its bearer token. Staff consoles use sessionStorage (gone when the tab
 * closes); boards on a TV use localStorage so they come back by themselves after a reboot.
 * Tokens never go into URLs.
 */
export class TokenStore {
  constructor(role, { persistent = false } = {}) {
    this.key = `vaxflow.token.${role}`;
    this.storage = persistent ? localStorage : sessionStorage;
  }
  get token() { return this.storage.getItem(this.key); }
  set(token) { this.storage.setItem(this.key, token); }
  clear() { this.storage.removeItem(this.key); }
}

export class ApiError extends Error {
  constructor(status, reason, message, details, messages) {
    super(message || reason);
    this.status = status;
    this.reason = reason;
    this.details = details || {};
    this.messages = messages || {};
  }
  /** The server's words for people, in the page's language (the server sends all three). */
  get words() {
    if (this.reason === "server_unreachable") return t("net.unreachable");
    return serverWords(this.messages, this.message);
  }
}

/** A refusal about the person signed in (not the device's token): ask the person again. */
export function isStaffError(err) {
  return !!(err && err.status === 401 && String(err.reason || "").startsWith("staff_"));
}

let deviceId = null;
/** Name this browser (kept in localStorage) and send it as X-Device-Id: with a shared token,
 * "the same device" (an observer's undo) means this browser. */
export function useDeviceId(prefix) {
  const key = `vaxflow.device.${prefix}`;
  deviceId = localStorage.getItem(key);
  if (!deviceId) { deviceId = `${prefix}-${requestId().slice(0, 12)}`; localStorage.setItem(key, deviceId); }
  return deviceId;
}

/** One API call with the bearer token; POSTs carry a fresh Idempotency-Key unless given one. */
export async function api(token, method, path, body, { key, timeoutMs = 8000 } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  if (staff.session) headers["X-Staff-Session"] = staff.session;
  if (deviceId) headers["X-Device-Id"] = deviceId;
  if (method === "POST") {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = key || requestId();
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: method === "POST" ? JSON.stringify(body || {}) : undefined,
      signal: controller.signal,
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, "server_unreachable", "The site server does not answer.");
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try { data = await response.json(); } catch (err) { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const failure = new ApiError(response.status, error.reason || "http_error", error.message, error.details, error.messages);
    if (isStaffError(failure) && staff.lost) staff.lost(failure);
    throw failure;
  }
  return data;
}

/**
 * The server's clock as seen from this display: offset = server − (t_send + t_recv) / 2,
 * from the sample with the shortest round trip, re-measured periodically. A display with a
 * wrong clock, or one that rebooted, still counts down to the server's ends_at correctly.
 */
export class ServerClock {
  constructor({ intervalMs = 60000, samples = 3 } = {}) {
    this.offsetMs = 0;
    this.rttMs = null;
    this.measured = false;
    this.intervalMs = intervalMs;
    this.samples = samples;
    this.timer = null;
  }
  now() { return Date.now() + this.offsetMs; }
  async measure() {
    let best = null;
    for (let i = 0; i < this.samples; i++) {
      const sent = Date.now();
      let data;
      try {
        const response = await fetch("/api/time", { cache: "no-store" });
        data = await response.json();
      } catch (err) {
        continue;
      }
      const received = Date.now();
      const rtt = received - sent;
      if (best === null || rtt < best.rtt) best = { rtt, offset: data.epoch_ms - (sent + received) / 2 };
      if (data.timezone) siteZone = data.timezone;
    }
    if (best !== null) {
      this.offsetMs = best.offset;
      this.rttMs = best.rtt;
      this.measured = true;
    }
    return this.measured;
  }
  start() {
    this.stop();
    this.timer = setInterval(() => this.measure(), this.intervalMs);
    return this.measure();
  }
  stop() { if (this.timer) clearInterval(this.timer); this.timer = null; }
}

/**
 * Follows /ws/events?since=N. The token travels as the WebSocket subprotocol "bearer.TOKEN"
 * (browsers cannot set headers on a WebSocket). Reconnects with backoff (0.5 s doubling to
 * 10 s) and resumes after the last event number it saw, so a server restart loses nothing.
 */
export class Feed {
  constructor({ token, since = 0, onEvent, onLive, onStatus, onReconnect }) {
    this.token = token;
    this.since = since;
    this.onEvent = onEvent || (() => {});
    this.onLive = onLive || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onReconnect = onReconnect || null;
    this.delayMs = 500;
    this.ws = null;
    this.stopped = false;
    this.connectedOnce = false;
  }
  start() {
    this.stopped = false;
    this.connect();
  }
  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close();
  }
  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/events?since=${this.since}`;
    let ws;
    try {
      ws = new WebSocket(url, ["vaxflow", `bearer.${this.token}`]);
    } catch (err) {
      this.retry();
      return;
    }
    this.ws = ws;
    this.onStatus("connecting");
    ws.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.kind === "live") {
        this.delayMs = 500;
        this.onStatus("live");
        this.onLive(event);
        return;
      }
      if (typeof event.seq === "number" && event.seq <= this.since) return;
      this.since = event.seq;
      this.onEvent(event);
    };
    ws.onopen = () => {
      if (this.connectedOnce && this.onReconnect) this.onReconnect();
      this.connectedOnce = true;
    };
    ws.onclose = () => {
      if (this.ws === ws) this.ws = null;
      if (!this.stopped) this.retry();
    };
    ws.onerror = () => {};
  }
  retry() {
    this.onStatus("offline");
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, 10000);
    setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
  }
}

/** Minutes and seconds: 29:05; hours when long. */
export function clockText(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const m = Math.floor(s / 60);
  const r = String(s % 60).padStart(2, "0");
  return `${m}:${r}`;
}

/**
 * The site's time zone from /api/time, asked once when a page loads: every time a page
 * shows is site time, whatever zone the display's own system is set to (often UTC).
 */
let siteZone = null;
const zoneAsked = fetch("/api/time", { cache: "no-store" })
  .then((r) => r.json())
  .then((d) => { siteZone = d.timezone || null; })
  .catch(() => {});
export function siteZoneReady() { return zoneAsked; }

/** A HH:MM of an instant, in the site's zone (the display's own until it is known). */
export function timeOfDay(ms) {
  const d = new Date(ms);
  if (siteZone) {
    try {
      return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: siteZone }).format(d);
    } catch (err) { /* an unknown zone: the display's own below */ }
  }
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/**
 * A sign-in form: asks for the token (and extra fields), checks it with `verify(token)`,
 * stores it and calls `done(token, values)`. Renders into `root`.
 */
export function signIn(root, { title, store, fields = [], verify, done }) {
  const error = el("p", { class: "error", role: "alert" });
  const tokenInput = el("input", { type: "password", name: "token", autocomplete: "off", required: true });
  const extra = fields.map((f) => ({ ...f, input: el("input", { name: f.name, required: !f.optional, value: f.value || "" }) }));
  const form = el(
    "form",
    { class: "signin card" },
    el("h1", {}, title),
    el("label", {}, t("signin.token"), tokenInput),
    ...extra.map((f) => el("label", {}, f.label, f.input)),
    el("button", { type: "submit", class: "primary" }, t("signin.submit")),
    languagePicker(),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    const values = Object.fromEntries(extra.map((f) => [f.name, f.input.value.trim()]));
    try {
      await verify(token);
    } catch (err) {
      if (isStaffError(err)) { store.set(token); done(token, values); return; } // the token is good
      error.textContent = err.status === 401 || err.status === 403
        ? t("signin.refused")
        : err.words || err.message;
      return;
    }
    store.set(token);
    done(token, values);
  });
  root.replaceChildren(form);
  tokenInput.focus();
}

/** A short status chip text for the feed state. */
export function statusText(state) {
  return { live: t("feed.live"), connecting: t("feed.connecting"), offline: t("feed.offline") }[state] || state;
}

/** A language choice for staff pages: a small select that reloads the page in the language. */
export function languagePicker() {
  return el("select", { class: "lang small", name: "lang", "aria-label": t("lang.label"), onchange: (e) => setLanguage(e.target.value) },
    ...LANGUAGES.map((code) => el("option", { value: code, selected: code === lang }, LANGUAGE_NAMES[code])));
}

/** Coalesce many requests to redraw into at most one call of `fn` per `ms` milliseconds. */
export function throttled(fn, ms = 250) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}

// --- staff sign-in: the person at this device (issues 6 and 9) ------------------------------

/** The signed-in person's session, sent as X-Staff-Session; kept in sessionStorage only. */
const staff = { session: null, lost: null };

/**
 * Asks who is at the device: staff number + PIN (a big numeric field and an on-screen keypad),
 * or a badge scanned into its field. Shows who is signed in with a sign-out button in a bar at
 * the top of the page, signs out after `idle_minutes` without a touch or key, and asks again
 * whenever the server says the sign-in has ended. Pages listen for the "vaxflow-staff" event.
 */
export class StaffGate {
  constructor({ role, token, title }) {
    this.key = `vaxflow.staff.${role}`;
    this.token = token;
    this.title = title;
    this.rules = null;
    this.person = null;
    this.lastActive = Date.now();
    this.waiting = [];
    const saved = JSON.parse(sessionStorage.getItem(this.key) || "null");
    staff.session = saved ? saved.session : null;
    staff.lost = null;
  }

  /** Resolves with the person (or null when sign-in is optional and nobody signed in). */
  async begin() {
    let me;
    try {
      me = await api(this.token, "GET", "/api/staff/me");
    } catch (err) {
      if (!isStaffError(err)) throw err;
      sessionStorage.removeItem(this.key); // a session from before a restart or an idle spell
      staff.session = null;
      me = await api(this.token, "GET", "/api/staff/me");
    }
    this.rules = me;
    staff.lost = () => { this.forget(); this.ask(); };
    this.person = me.signed_in ? me.staff : null;
    for (const type of ["pointerdown", "keydown", "touchstart"]) {
      document.addEventListener(type, () => { this.lastActive = Date.now(); }, { passive: true, capture: true });
    }
    setInterval(() => this.checkIdle(), 5000);
    this.bar();
    if (this.person || !me.configured || !me.required) return this.person;
    return new Promise((resolve) => { this.waiting.push(resolve); this.ask(); });
  }

  checkIdle() {
    if (!this.person || !this.rules) return;
    if (Date.now() - this.lastActive > this.rules.idle_minutes * 60000) this.signOut("idle");
  }

  forget() {
    sessionStorage.removeItem(this.key);
    staff.session = null;
    this.person = null;
    this.bar();
    window.dispatchEvent(new CustomEvent("vaxflow-staff", { detail: null }));
  }

  async signOut() {
    if (staff.session) {
      try { await api(this.token, "POST", "/api/staff/sign-out", {}); } catch (err) { /* ended anyway */ }
    }
    this.forget();
    if (this.rules && this.rules.required) this.ask();
  }

  bar() {
    let bar = document.getElementById("staff-bar");
    if (!this.rules || !this.rules.configured) { if (bar) bar.remove(); return; }
    if (!bar) { bar = el("div", { id: "staff-bar", class: "staff-bar" }); document.body.prepend(bar); }
    bar.replaceChildren(...(this.person
      ? [el("span", { id: "staff-name" }, `👤 ${this.person.label}`),
         el("button", { class: "small", id: "staff-sign-out", onclick: () => this.signOut() }, t("staff.signout"))]
      : [el("span", { class: "muted" }, t("staff.nobody")),
         el("button", { class: "small", id: "staff-sign-in", onclick: () => this.ask() }, t("staff.signin"))]));
  }

  /** The sign-in form, over the page. */
  ask() {
    if (document.getElementById("staff-signin")) return;
    const required = !!(this.rules && this.rules.required);
    const error = el("p", { class: "error", role: "alert", id: "staff-error" });
    const staffId = el("input", { name: "staff_id", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", class: "big" });
    const pin = el("input", { name: "pin", type: "password", inputmode: "numeric", pattern: "[0-9]*", maxlength: 12, autocomplete: "off", class: "big pin" });
    const badge = el("input", { name: "badge", type: "password", autocomplete: "off", placeholder: t("staff.scan") });
    const key = (label, press) => el("button", { type: "button", class: "key", onclick: () => { press(); pin.focus(); } }, label);
    const keypad = el("div", { class: "keypad" },
      ..."123456789".split("").map((d) => key(d, () => { pin.value += d; })),
      key(t("staff.clear"), () => { pin.value = ""; }), key("0", () => { pin.value += "0"; }), key("⌫", () => { pin.value = pin.value.slice(0, -1); }));
    const overlay = el("div", { class: "staff-overlay", id: "staff-signin" });
    const form = el("form", { class: "signin card staff-form" },
      el("h1", {}, this.title || t("staff.signin")),
      el("p", { class: "muted" }, t("staff.help")),
      el("label", {}, t("staff.number"), staffId),
      el("label", {}, t("staff.pin"), pin),
      keypad,
      el("label", {}, t("staff.badge"), badge),
      el("div", { class: "row" },
        el("button", { type: "submit", class: "primary", id: "staff-submit" }, t("signin.submit")),
        required ? null : el("button", { type: "button", id: "staff-skip", onclick: () => overlay.remove() }, t("staff.notnow"))),
      error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      if (staffId.value.trim()) body.staff_id = staffId.value.trim().toUpperCase();
      if (pin.value) body.pin = pin.value;
      if (badge.value.trim()) body.badge = badge.value.trim();
      let answer;
      try {
        staff.session = null; // a sign-in never carries an old session
        answer = await api(this.token, "POST", "/api/staff/sign-in", body);
      } catch (err) {
        error.textContent = err.words || err.message;
        pin.value = ""; badge.value = "";
        (body.badge ? badge : pin).focus();
        return;
      }
      sessionStorage.setItem(this.key, JSON.stringify({ session: answer.session, staff: answer.staff }));
      staff.session = answer.session;
      this.person = answer.staff;
      this.lastActive = Date.now();
      overlay.remove();
      this.bar();
      window.dispatchEvent(new CustomEvent("vaxflow-staff", { detail: this.person }));
      for (const resolve of this.waiting.splice(0)) resolve(this.person);
    });
    // A badge scanner types the code and Enter: submit from the badge field at once.
    badge.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); form.requestSubmit(); } });
    overlay.append(form);
    document.body.append(overlay);
    staffId.focus();
  }
}
