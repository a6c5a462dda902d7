// Call board: current calls by zone, the newest large on top, repeated calls highlighted,
// a chime and the spoken call (espeak-ng WAV rendered by the server) for each new call.
import { $, el, api, t, nameOf, TokenStore, ServerClock, Feed, timeOfDay, signIn, statusText, throttled } from "/web/common.js";

const store = new TokenStore("board", { persistent: true });
const clock = new ServerClock();
const KEEP_PER_ZONE = 8;
const CALL_KINDS = new Set(["called", "recalled"]);
const DONE_KINDS = new Set(["service_started", "skipped", "no_show", "cancelled", "deferred", "referred", "dosed"]);

const state = {
  token: null,
  zones: [],
  calls: [], // newest first: {visit_id, ticket, station_id, station_name, zone, call_count, arrived, fresh}
  sound: false,
  speech: true,
  queue: [],
  playing: false,
  audio: null,
};

function upsertCall(p, fresh) {
  state.calls = state.calls.filter((c) => c.visit_id !== p.visit_id);
  state.calls.unshift({ ...p, arrived: false, fresh, shownAt: Date.now() });
  const perZone = new Map();
  state.calls = state.calls.filter((c) => {
    const n = (perZone.get(c.zone) || 0) + 1;
    perZone.set(c.zone, n);
    return n <= KEEP_PER_ZONE;
  });
}

/** A zone's name in the page's language (the site file may give one per language). */
function zoneName(zone) { return nameOf((state.zoneNames || {})[zone], zone); }

function render() {
  $("#clock").textContent = timeOfDay(clock.now());
  const latest = state.calls.find((c) => !c.arrived);
  const top = $("#top");
  top.replaceChildren(
    ...(latest
      ? [el("span", { class: "ticket", id: "latest-ticket" }, latest.ticket),
         el("span", { class: "where" }, t("calls.goto", { station: nameOf(latest.station_names, latest.station_name), zone: zoneName(latest.zone) }))]
      : [el("span", { class: "muted" }, t("calls.wait"))]),
  );
  // Dozens of stations in many zones: at most 6 zone columns, zones wrap onto more rows,
  // and each zone shows the calls that fit whole in its height (never a sliced row).
  const columns = Math.min(6, Math.max(1, state.zones.length));
  $("#zones").style.setProperty("--zones", columns);
  $("#zones").replaceChildren(
    ...state.zones.map((zone) =>
      el("section", { class: "zone", dataset: { zone } },
        el("h2", {}, zoneName(zone)),
        ...state.calls.filter((c) => c.zone === zone).slice(0, KEEP_PER_ZONE).map((c) => {
          const classes = ["call"];
          if (c.call_count > 1) classes.push("repeat");
          if (c.arrived) classes.push("arrived");
          if (c.fresh && Date.now() - c.shownAt < 3000) classes.push("fresh");
          return el("div", { class: classes.join(" "), dataset: { ticket: c.ticket, calls: c.call_count } },
            el("span", { class: "ticket" }, c.ticket),
            el("span", { class: "where" }, nameOf(c.station_names, c.station_name),
              c.call_count > 1 ? el("span", { class: "tag" }, t("calls.repeat", { n: c.call_count })) : null));
        }))),
  );
  for (const zone of $("#zones").children) {
    const bottom = zone.getBoundingClientRect().bottom;
    for (const call of [...zone.querySelectorAll(".call")]) if (call.getBoundingClientRect().bottom > bottom + 0.5) call.remove();
  }
}

// --- sound: a WebAudio chime, then the server's spoken WAV (fetched with the token) ---------
function chime(ctx) {
  const now = ctx.currentTime;
  [880, 660].forEach((freq, i) => {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + i * 0.35);
    gain.gain.exponentialRampToValueAtTime(0.4, now + i * 0.35 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.35 + 0.6);
    osc.connect(gain).connect(ctx.destination);
    osc.start(now + i * 0.35);
    osc.stop(now + i * 0.35 + 0.65);
  });
  return new Promise((r) => setTimeout(r, 1000));
}

async function speak(call) {
  if (!state.speech) return;
  let response;
  try {
    response = await fetch(`/api/announcements/${encodeURIComponent(call.station_id)}/${encodeURIComponent(call.ticket)}.wav`,
      { headers: { Authorization: `Bearer ${state.token}` } });
  } catch (err) { return; }
  if (response.status === 404) { state.speech = false; console.warn("speech unavailable on the server"); return; }
  if (!response.ok) return;
  const url = URL.createObjectURL(await response.blob());
  try {
    const audio = new Audio(url);
    await audio.play();
    await new Promise((r) => { audio.onended = r; audio.onerror = r; });
  } catch (err) { /* autoplay refused: the chip tells staff to enable sound */ }
  URL.revokeObjectURL(url);
}

async function playQueue() {
  if (state.playing || !state.sound) return;
  state.playing = true;
  const ctx = state.audio;
  while (state.queue.length) {
    const call = state.queue.shift();
    await chime(ctx);
    await speak(call);
  }
  state.playing = false;
}

function announce(call) {
  if (!state.sound) return;
  state.queue.push(call);
  if (state.queue.length > 6) state.queue.splice(0, state.queue.length - 6);
  playQueue();
}

function apply(event, live) {
  const p = event.payload || {};
  if (CALL_KINDS.has(event.kind) && p.ticket && p.zone) {
    upsertCall({ visit_id: event.visit_id, ticket: p.ticket, station_id: p.station_id,
      station_name: p.station_name, station_names: p.station_names, zone: p.zone, call_count: p.call_count }, live);
    if (live) announce(state.calls[0]);
  } else if (DONE_KINDS.has(event.kind)) {
    const call = state.calls.find((c) => c.visit_id === event.visit_id);
    if (call) call.arrived = true;
  }
  if (live) redraw();
}

const redraw = throttled(() => render(), 100);

async function start(token) {
  state.token = token;
  $("#app").replaceChildren(
    el("header", { class: "bar" },
      el("h1", {}, t("calls.title")),
      el("button", { id: "sound", class: "small", onclick: enableSound }, t("calls.sound")),
      el("span", { id: "feed", class: "chip" }, "…"),
      el("span", { id: "clock", class: "clock" })),
    el("div", { id: "top", class: "calls-top" }),
    el("div", { id: "zones", class: "zones" }),
  );
  await clock.start();
  let since = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      const data = await api(token, "GET", "/api/boards/calls");
      state.zones = data.zones;
      state.zoneNames = data.zone_names || {};
      state.calls = [];
      for (const c of [...data.calls].reverse()) upsertCall(c, false);
      since = data.seq;
      break;
    } catch (err) {
      if (err.status === 401 || err.status === 403) { store.clear(); return boot(); }
      await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** attempt)));
    }
  }
  let live = false;
  const feed = new Feed({
    token, since,
    onEvent: (e) => apply(e, live),
    onLive: () => { live = true; render(); },
    onStatus: (s) => { if (s !== "live") live = false; const chip = $("#feed"); chip.textContent = statusText(s); chip.className = `chip ${s}`; },
  });
  feed.start();
  render();
  setInterval(render, 1000);
}

function enableSound() {
  state.audio = state.audio || new AudioContext();
  state.audio.resume();
  state.sound = !state.sound;
  $("#sound").textContent = state.sound ? t("calls.soundon") : t("calls.sound");
}

function boot() {
  const token = store.token;
  if (token) { start(token); return; }
  document.body.classList.remove("board");
  signIn($("#app"), {
    title: t("calls.board"),
    store,
    verify: (t) => api(t, "GET", "/api/boards/calls"),
    done: (t) => { document.body.classList.add("board"); start(t); },
  });
}

window.vaxflowCalls = state;
boot();
