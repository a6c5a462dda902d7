// Observation board: everyone under observation with a countdown to the server's ends_at,
// corrected by this display's measured clock offset; live from the event feed.
import { $, el, api, t, TokenStore, ServerClock, Feed, clockText, timeOfDay, signIn, statusText } from "/web/common.js";

const store = new TokenStore("board", { persistent: true });
const clock = new ServerClock({ intervalMs: 60000 });
const ROTATE_MS = 10000;
const LEAVING_STATES = new Set(["released", "left_early", "transferred", "cancelled"]);

const state = {
  token: null,
  people: new Map(), // visit_id -> payload (ticket, name, ends_at, adverse_open, ...)
  lastMinutes: 5,
  seats: 0,
  page: 0,
  pageTurned: Date.now(), // the first page stays its full time
  feed: null,
};

function classify(person, nowMs) {
  const remaining = (Date.parse(person.ends_at) - nowMs) / 1000;
  if (person.adverse_open) return { kind: "flagged", remaining };
  if (remaining <= 0) return { kind: "done", remaining: 0 };
  if (remaining <= state.lastMinutes * 60) return { kind: "last", remaining };
  return { kind: "observing", remaining };
}

const LABELS = { observing: "obs.observing", last: "obs.last", done: "obs.done", flagged: "obs.flagged" };

/**
 * Whole tiles only: as many columns as fit at the tile's width, as many rows as fit in the
 * grid's height at the tile's height (both in em of the board's font, which follows the
 * screen). Returns tiles per page.
 */
function layout() {
  const grid = $("#grid");
  const style = getComputedStyle(grid);
  const fontPx = parseFloat(style.fontSize);
  const gap = parseFloat(style.rowGap) || 0;
  const width = grid.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const height = grid.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
  const cols = Math.max(1, Math.floor((width + gap) / (fontPx * 8.6 + gap)));
  const rows = Math.max(1, Math.floor((height + gap) / (fontPx * TILE_EM + gap)));
  grid.style.setProperty("--cols", cols);
  grid.style.setProperty("--rows", rows);
  return cols * rows;
}

/** The tile's height in em (style.css .tile). */
const TILE_EM = 6.4;

/** "剩余 25:08" / "25:08 left": the countdown is never read as a time of day. */
function countdown(seconds) {
  const [before, after] = t("obs.left").split("{t}");
  return [before ? el("small", {}, before.trim()) : null, el("b", {}, clockText(seconds)), after ? el("small", {}, after.trim()) : null];
}

function render() {
  const now = clock.now();
  $("#clock").textContent = timeOfDay(now);
  const people = [...state.people.values()].sort(
    (a, b) => (b.adverse_open - a.adverse_open) || (Date.parse(a.ends_at) - Date.parse(b.ends_at)),
  );
  const perPage = layout();
  const pages = Math.max(1, Math.ceil(people.length / perPage));
  if (Date.now() - state.pageTurned > ROTATE_MS) {
    state.page = (state.page + 1) % pages;
    state.pageTurned = Date.now();
  }
  if (state.page >= pages) state.page = 0;
  const shown = people.slice(state.page * perPage, (state.page + 1) * perPage);
  const tiles = shown.map((p) => {
    const c = classify(p, now);
    const sev = c.kind === "flagged" && p.adverse ? p.adverse.severity : "";
    return el(
      "div",
      { class: `tile ${c.kind}${sev ? ` sev-${sev}` : ""}`, dataset: { ticket: p.ticket, state: c.kind, severity: sev || null, remaining: Math.ceil(c.remaining) } },
      el("span", { class: "ticket" }, p.ticket),
      el("span", { class: "name" }, p.name || ""),
      el("span", { class: "time" }, ...(c.kind === "done" ? [el("b", {}, "✓")] : countdown(c.remaining))),
      el("span", { class: "state" }, t(LABELS[c.kind]), sev ? ` · ${t(`sev.${sev}`)}` : ""),
    );
  });
  const grid = $("#grid");
  grid.replaceChildren(...tiles);
  // Never a sliced tile: whatever the fonts did, a tile that does not fit whole goes.
  const bottom = grid.getBoundingClientRect().bottom;
  for (const tile of [...grid.children]) if (tile.getBoundingClientRect().bottom > bottom + 0.5) tile.remove();
  $("#count").textContent = t("obs.count", { n: people.length, seats: state.seats });
  $("#pager").textContent = pages > 1 ? t("obs.page", { p: state.page + 1, n: pages }) : "";
}

function apply(event) {
  const p = event.payload || {};
  if (!event.visit_id || !p.ticket) return;
  if (p.state === "observing" && p.ends_at) {
    // a flag's event says the reaction (adverse, severity); later events keep what was known
    const known = state.people.get(event.visit_id);
    const reaction = p.adverse ? { kind: p.adverse, severity: p.severity } : (known && known.adverse) || null;
    state.people.set(event.visit_id, { ...p, adverse: p.adverse_open ? reaction : null });
  }
  else if (LEAVING_STATES.has(p.state) || state.people.has(event.visit_id)) state.people.delete(event.visit_id);
}

async function snapshot() {
  const data = await api(state.token, "GET", "/api/boards/observation");
  state.people = new Map(data.people.map((p) => [p.visit_id, p]));
  state.lastMinutes = data.last_minutes;
  state.seats = data.seats;
  return data.seq;
}

async function start(token) {
  state.token = token;
  $("#app").replaceChildren(
    el("header", { class: "bar" },
      el("h1", {}, t("obs.title")),
      el("span", { id: "count", class: "chip" }),
      el("span", { id: "pager", class: "pager" }),
      el("span", { id: "feed", class: "chip" }, "…"),
      el("span", { id: "clock", class: "clock" })),
    el("div", { id: "grid", class: "obs-grid" }),
    el("footer", { class: "legend", id: "legend" },
      el("span", { style: "--c: var(--accent)" }, t("obs.observing")),
      el("span", { style: "--c: var(--warn)" }, t("obs.last")),
      el("span", { style: "--c: var(--ok)" }, t("obs.done")),
      el("span", { style: "--c: var(--bad)" }, t("obs.flagged"))),
  );
  await clock.start();
  let since = 0;
  for (let attempt = 0; ; attempt++) {
    try { since = await snapshot(); break; } catch (err) {
      if (err.status === 401 || err.status === 403) { store.clear(); return boot(); }
      await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** attempt)));
    }
  }
  state.feed = new Feed({
    token,
    since,
    onEvent: apply,
    onStatus: (s) => { const chip = $("#feed"); chip.textContent = statusText(s); chip.className = `chip ${s}`; },
    onReconnect: () => clock.measure(),
  });
  state.feed.start();
  render();
  setInterval(render, 500);
  window.addEventListener("resize", render);
}

function boot() {
  const token = store.token;
  if (token) { start(token); return; }
  document.body.classList.remove("board");
  signIn($("#app"), {
    title: t("obs.board"),
    store,
    verify: (t) => api(t, "GET", "/api/boards/observation"),
    done: (t) => { document.body.classList.add("board"); start(t); },
  });
}

window.vaxflowBoard = state;
boot();
