// Observer console: everyone in observation; flag an adverse reaction (type, severity),
// record its outcome (resolved / transferred), release, or record that someone left early.
import { $, el, api, TokenStore, ServerClock, Feed, clockText, signIn, statusText, throttled, StaffGate, isStaffError } from "/web/common.js";

const store = new TokenStore("observer");
const clock = new ServerClock();
const KINDS = [
  ["dizziness", "头晕 Dizziness"], ["fainting", "晕厥 Fainting"], ["rash", "皮疹 Rash"],
  ["anaphylaxis", "过敏性休克 Anaphylaxis"], ["breathing", "呼吸困难 Breathing difficulty"],
  ["injection_site", "注射部位反应 Injection site"], ["other", "其他 Other"],
];
const LEAVING = new Set(["released", "left_early", "transferred", "cancelled"]);
const state = { token: null, people: new Map(), choices: new Map(), filter: "", message: null };

async function act(path, body, done) {
  try {
    await api(state.token, "POST", path, body);
    state.message = { kind: "ok", text: done };
    state.messageAt = Date.now();
  } catch (err) {
    state.message = { kind: "bad", text: `${err.words} (${err.reason})` };
  }
  render();
}

function row(p, now) {
  const remaining = (Date.parse(p.ends_at) - now) / 1000;
  const done = remaining <= 0 && !p.adverse_open;
  const choice = state.choices.get(p.visit_id) || { kind: "dizziness", severity: "mild" };
  state.choices.set(p.visit_id, choice);
  const kind = el("select", { name: "kind", onchange: (e) => { choice.kind = e.target.value; } },
    ...KINDS.map(([v, l]) => el("option", { value: v, selected: choice.kind === v }, l)));
  const severity = el("select", { name: "severity", onchange: (e) => { choice.severity = e.target.value; } },
    ...[["mild", "轻 mild"], ["moderate", "中 moderate"], ["severe", "重 severe"]].map(([v, l]) => el("option", { value: v, selected: choice.severity === v }, l)));
  const base = `/api/observation/${p.visit_id}`;
  const actions = p.adverse_open
    ? [el("span", { class: "banner bad", style: "margin:0;padding:.3rem .6rem" }, "不良反应 Adverse reaction"),
       el("button", { class: "small good", onclick: () => act(`${base}/resolve`, { outcome: "resolved" }, `${p.ticket} resolved`) }, "已缓解 Resolved"),
       el("button", { class: "small danger", onclick: () => act(`${base}/resolve`, { outcome: "transferred" }, `${p.ticket} transferred`) }, "转院 Transferred")]
    : [kind, severity,
       el("button", { class: "small danger", onclick: () => act(`${base}/flag`, { kind: kind.value, severity: severity.value }, `${p.ticket} flagged`) }, "报告反应 Flag"),
       el("button", { class: "small good", disabled: !done, onclick: () => act(`${base}/release`, {}, `${p.ticket} released`) }, "放行 Release"),
       el("button", { class: "small", onclick: () => { if (confirm(`${p.ticket} 提前离开 left early?`)) act(`${base}/left-early`, {}, `${p.ticket} left early`); } }, "提前离开 Left early")];
  return el("tr", { dataset: { ticket: p.ticket } },
    el("td", {}, el("b", {}, p.ticket)), el("td", {}, p.name), el("td", {}, p.product),
    el("td", { style: `white-space: nowrap; font-variant-numeric: tabular-nums; color: ${done ? "var(--ok)" : "inherit"}` },
      p.adverse_open ? `${clockText(remaining)} · 暂停放行 held` : done ? "可以离开 may leave" : clockText(remaining)),
    el("td", {}, el("div", { class: "row" }, ...actions)));
}

function render() {
  const now = clock.now();
  const people = [...state.people.values()]
    .filter((p) => !state.filter || p.ticket.includes(state.filter.toUpperCase()))
    .sort((a, b) => (b.adverse_open - a.adverse_open) || (Date.parse(a.ends_at) - Date.parse(b.ends_at)));
  $("#msg").replaceChildren(state.message ? el("div", { class: `banner ${state.message.kind}` }, state.message.text) : "");
  $("#count").textContent = `${state.people.size} 人 people`;
  $("#rows").replaceChildren(...people.slice(0, 300).map((p) => row(p, now)));
}

function apply(event) {
  const p = event.payload || {};
  if (!event.visit_id || !p.ticket) return;
  if (p.state === "observing" && p.ends_at) state.people.set(event.visit_id, p);
  else if (LEAVING.has(p.state)) state.people.delete(event.visit_id);
  redraw();
}

const redraw = throttled(() => render(), 300);

async function start(token) {
  state.token = token;
  await new StaffGate({ role: "observer", token, title: "留观区工作人员登录 Observer staff sign-in" }).begin();
  const search = el("input", { placeholder: "票号 Ticket", oninput: (e) => { state.filter = e.target.value.trim(); render(); } });
  $("#app").replaceChildren(
    el("header", { class: "bar" }, el("h1", {}, "留观区 Observation — 工作人员 staff"),
      el("span", { id: "count", class: "chip" }), el("span", { id: "feed", class: "chip" }, "…"),
      el("a", { href: "/exit", class: "chip" }, "出口 Exit")),
    el("main", {}, el("div", { id: "msg" }), el("div", { class: "row" }, el("label", {}, "查找 Find", search)),
      el("table", {}, el("thead", {}, el("tr", {}, ...["票号 Ticket", "姓名 Name", "疫苗 Product", "剩余 Left", ""].map((h) => el("th", {}, h)))),
        el("tbody", { id: "rows" }))),
  );
  await clock.start();
  const data = await api(token, "GET", "/api/boards/observation");
  state.people = new Map(data.people.map((p) => [p.visit_id, p]));
  new Feed({ token, since: data.seq, onEvent: apply,
    onStatus: (s) => { const c = $("#feed"); c.textContent = statusText(s); c.className = `chip ${s}`; } }).start();
  render();
  setInterval(() => { if (!document.activeElement || document.activeElement.tagName !== "SELECT") render(); }, 1000);
}

function boot() {
  if (store.token) { start(store.token); return; }
  signIn($("#app"), {
    title: "留观区工作人员 Observer sign-in",
    store,
    verify: async (t) => {
      await api(t, "POST", "/api/exit/scan", {}).catch((err) => { if ((err.status === 401 || err.status === 403) && !isStaffError(err)) throw err; });
    },
    done: (t) => start(t),
  });
}

boot();
