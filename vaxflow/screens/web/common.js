// Shared by every vaxflow page: tokens, API calls, the server clock offset, the live feed.
// Plain ES module, served by the site server; no CDN, no build step.

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
  constructor(status, reason, message, details) {
    super(message || reason);
    this.status = status;
    this.reason = reason;
    this.details = details || {};
  }
}

/** One API call with the bearer token; POSTs carry a fresh Idempotency-Key unless given one. */
export async function api(token, method, path, body, { key, timeoutMs = 8000 } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
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
    throw new ApiError(response.status, error.reason || "http_error", error.message, error.details);
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

/** A HH:MM of an instant, in the display's own zone. */
export function timeOfDay(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/**
 * A sign-in form: asks for the token (and extra fields), checks it with `verify(token)`,
 * stores it and calls `done(token, values)`. Renders into `root`.
 */
export function signIn(root, { title, store, fields = [], verify, done }) {
  const error = el("p", { class: "error", role: "alert" });
  const tokenInput = el("input", { type: "password", name: "token", autocomplete: "off", required: true });
  const extra = fields.map((f) => ({ ...f, input: el("input", { name: f.name, required: true, value: f.value || "" }) }));
  const form = el(
    "form",
    { class: "signin card" },
    el("h1", {}, title),
    el("label", {}, "令牌 Token", tokenInput),
    ...extra.map((f) => el("label", {}, f.label, f.input)),
    el("button", { type: "submit", class: "primary" }, "登录 Sign in"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = tokenInput.value.trim();
    const values = Object.fromEntries(extra.map((f) => [f.name, f.input.value.trim()]));
    try {
      await verify(token);
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 403
        ? "令牌无效或无权限 This token is not valid here."
        : `${err.message}`;
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
  return { live: "● 实时 live", connecting: "○ 连接中 connecting", offline: "✕ 离线 offline — reconnecting" }[state] || state;
}

/** Coalesce many requests to redraw into at most one call of `fn` per `ms` milliseconds. */
export function throttled(fn, ms = 250) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}
