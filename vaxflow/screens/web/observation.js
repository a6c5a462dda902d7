// Observation board: everyone under observation with a countdown to the server's ends_at,
// corrected by this display's measured clock offset; live from the event feed.
import { $, el, api, TokenStore, ServerClock, Feed, clockText, timeOfDay, signIn, statusText } from "/web/common.js";

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
  pageTurned: 0,
  feed: null,
};

function classify(person, nowMs) {
  const remaining = (Date.parse(person.ends_at) - nowMs) / 1000;
  if (person.adverse_open) return { kind: "flagged", remaining };
  if (remaining <= 0) return { kind: "done", remaining: 0 };
  if (remaining <= state.lastMinutes * 60) return { kind: "last", remaining };
  return { kind: "observing", remaining };
}

const LABELS = {
  observing: "留观中 Observing",
  last: "即将结束 Last minutes",
  done: "可以离开 You may leave",
  flagged: "请勿离开 Staff attending",
};

function layout() {
  const grid = $("#grid");
  const width = grid.clientWidth || window.innerWidth;
  const fontPx = parseFloat(getComputedStyle(document.body).fontSize);
  const cols = Math.max(2, Math.floor(width / (fontPx * 9.5)));
  const top = grid.getBoundingClientRect().top;
  const height = window.innerHeight - top - fontPx * 1.5;
  const rows = Math.max(1, Math.floor(height / (fontPx * 6.0)));
  grid.style.setProperty("--cols", cols);
  return cols * rows;
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
    return el(
      "div",
      { class: `tile ${c.kind}`, dataset: { ticket: p.ticket, state: c.kind, remaining: Math.ceil(c.remaining) } },
      el("span", { class: "ticket" }, p.ticket),
      el("span", { class: "name" }, p.name || ""),
      el("span", { class: "time" }, c.kind === "done" ? "✓" : clockText(c.remaining)),
      el("span", { class: "state" }, LABELS[c.kind]),
    );
  });
  $("#grid").replaceChildren(...tiles);
  $("#count").textContent = `${people.length} / ${state.seats} 人 people`;
  $("#pager").textContent = pages > 1 ? `第 ${state.page + 1}/${pages} 页 page` : "";
}

function apply(event) {
  const p = event.payload || {};
  if (!event.visit_id || !p.ticket) return;
  if (p.state === "observing" && p.ends_at) state.people.set(event.visit_id, p);
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
      el("h1", {}, "留观区 Observation"),
      el("span", { class: "legend" },
        el("span", { style: "--c: var(--accent)" }, "留观中 observing"),
        el("span", { style: "--c: var(--warn)" }, "即将结束 last minutes"),
        el("span", { style: "--c: var(--ok)" }, "可以离开 may leave"),
        el("span", { style: "--c: var(--bad)" }, "请勿离开 flagged")),
      el("span", { id: "count", class: "chip" }),
      el("span", { id: "pager", class: "pager" }),
      el("span", { id: "feed", class: "chip" }, "…"),
      el("span", { id: "clock", class: "clock" })),
    el("div", { id: "grid", class: "obs-grid" }),
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
    title: "留观区看板 Observation board",
    store,
    verify: (t) => api(t, "GET", "/api/boards/observation"),
    done: (t) => { document.body.classList.add("board"); start(t); },
  });
}

window.vaxflowBoard = state;
boot();
