// Observer console: everyone in observation; flag an adverse reaction (choose the kind and the
// severity, then confirm: nothing is preset, so one tap records nothing), record its outcome
// (resolved, or transferred to hospital: apart, and confirmed), release, or record that someone
// left early. Rows are kept by visit: the clock ticks update only the time cells, so a row
// never re-renders under the finger.
import { $, el, api, t, addWords, TokenStore, ServerClock, Feed, clockText, signIn, statusText, throttled, StaffGate, isStaffError, languagePicker, useDeviceId } from "/web/common.js";

addWords({
  "ob.title": ["留观区 — 工作人员", "留觀區 — 工作人員", "Observation — staff"],
  "ob.signin": ["留观区工作人员", "留觀區工作人員", "Observer sign-in"],
  "ob.staff": ["留观区工作人员登录", "留觀區工作人員登入", "Observer staff sign-in"],
  "ob.people": ["{n} 人", "{n} 人", "{n} people"],
  "ob.exit": ["出口", "出口", "Exit"],
  "ob.find": ["查找票号", "查找票號", "Find a ticket"],
  "ob.ticket": ["票号", "票號", "Ticket"],
  "ob.name": ["姓名", "姓名", "Name"],
  "ob.product": ["疫苗", "疫苗", "Product"],
  "ob.left": ["剩余", "剩餘", "Left"],
  "ob.mayleave": ["可以离开", "可以離開", "may leave"],
  "ob.held": ["暂停放行", "暫停放行", "held"],
  "ob.kind": ["反应类型…", "反應類型…", "Reaction…"],
  "ob.severity": ["程度…", "程度…", "Severity…"],
  "ob.flag": ["报告反应", "報告反應", "Flag"],
  "ob.confirm": ["确认报告 {ticket}：{kind}，{severity}？", "確認報告 {ticket}：{kind}，{severity}？", "Flag {ticket}: {kind}, {severity}?"],
  "ob.yes": ["确认", "確認", "Confirm"],
  "ob.no": ["取消", "取消", "Cancel"],
  "ob.release": ["放行", "放行", "Release"],
  "ob.early": ["提前离开", "提前離開", "Left early"],
  "ob.early?": ["{ticket} 提前离开？", "{ticket} 提前離開？", "{ticket} left early?"],
  "ob.resolved": ["已缓解", "已緩解", "Resolved"],
  "ob.transfer": ["转送医院…", "轉送醫院…", "Transfer to hospital…"],
  "ob.transfer?": ["确认 {ticket} 已转送医院？", "確認 {ticket} 已轉送醫院？", "Confirm {ticket} was transferred to hospital?"],
  "ob.reaction": ["不良反应", "不良反應", "Adverse reaction"],
  "ob.undo": ["撤销（{s} 秒）", "撤銷（{s} 秒）", "Undo ({s} s)"],
  "ob.done.undo": ["已撤销 {ticket} 的反应报告", "已撤銷 {ticket} 的反應報告", "{ticket}: reaction withdrawn"],
  "ob.done.flag": ["已报告 {ticket}：{kind}，{severity}", "已報告 {ticket}：{kind}，{severity}", "{ticket} flagged: {kind}, {severity}"],
  "ob.done.resolved": ["{ticket} 已缓解", "{ticket} 已緩解", "{ticket} resolved"],
  "ob.done.transferred": ["{ticket} 已转送医院", "{ticket} 已轉送醫院", "{ticket} transferred to hospital"],
  "ob.done.released": ["{ticket} 已放行", "{ticket} 已放行", "{ticket} released"],
  "ob.done.early": ["{ticket} 已记录提前离开", "{ticket} 已記錄提前離開", "{ticket} recorded as left early"],
});

const store = new TokenStore("observer");
const clock = new ServerClock();
const KINDS = ["dizziness", "fainting", "rash", "anaphylaxis", "breathing", "injection_site", "other"];
const SEVERITIES = ["mild", "moderate", "severe"];
const UNDO_MS = 60_000; // the server's WITHDRAW_SECONDS
const LEAVING = new Set(["released", "left_early", "transferred", "cancelled"]);
const state = {
  token: null,
  people: new Map(), // visit_id -> payload
  rows: new Map(), // visit_id -> { tr, time, actions, key }
  choices: new Map(), // visit_id -> { kind, severity, confirming }
  undos: new Map(), // visit_id -> until (ms, server clock): a flag this device may take back
  filter: "",
  message: null,
};

async function act(path, body, done) {
  let ok = false;
  try {
    await api(state.token, "POST", path, body);
    state.message = { kind: "ok", text: done };
    ok = true;
  } catch (err) {
    state.message = { kind: "bad", text: err.words };
  }
  showMessage();
  return ok;
}

/** Seconds left to take back this row's flag (0: none or over). */
function undoLeft(p, now) {
  const until = state.undos.get(p.visit_id);
  return until ? Math.max(0, Math.ceil((until - now) / 1000)) : 0;
}

function showMessage() {
  $("#msg").replaceChildren(state.message ? el("div", { class: `banner ${state.message.kind}`, role: "status" }, state.message.text) : "");
}

function remaining(p, now) { return (Date.parse(p.ends_at) - now) / 1000; }
function isDone(p, now) { return remaining(p, now) <= 0 && !p.adverse_open; }

/** The actions cell: what a row offers depends on its state, not on the clock's second. */
function actions(p, now) {
  const base = `/api/observation/${p.visit_id}`;
  const ticket = p.ticket;
  if (p.adverse_open) {
    const a = p.adverse || {};
    const sev = a.severity || "";
    return el("div", { class: "row actions" },
      el("span", { class: `reaction sev-${sev}` }, t("ob.reaction"), a.kind ? `: ${t(`kind.${a.kind}`)}` : "", sev ? ` · ${t(`sev.${sev}`)}` : ""),
      undoLeft(p, now) > 0 ? el("button", { class: "small undo", name: "undo", onclick: async () => {
        if (await act(`${base}/withdraw`, {}, t("ob.done.undo", { ticket }))) state.undos.delete(p.visit_id);
      } }, t("ob.undo", { s: undoLeft(p, now) })) : "",
      el("button", { class: "small good", name: "resolved", onclick: () => act(`${base}/resolve`, { outcome: "resolved" }, t("ob.done.resolved", { ticket })) }, t("ob.resolved")),
      el("span", { class: "spacer" }),
      el("button", { class: "small danger transfer", name: "transferred", onclick: () => {
        if (confirm(t("ob.transfer?", { ticket }))) act(`${base}/resolve`, { outcome: "transferred" }, t("ob.done.transferred", { ticket }));
      } }, t("ob.transfer")));
  }
  const choice = state.choices.get(p.visit_id) || { kind: "", severity: "", confirming: false };
  state.choices.set(p.visit_id, choice);
  const redrawRow = () => { const row = state.rows.get(p.visit_id); if (row) row.key = null; render(); };
  if (choice.confirming) {
    const words = { ticket, kind: t(`kind.${choice.kind}`), severity: t(`sev.${choice.severity}`) };
    return el("div", { class: `row actions confirming sev-${choice.severity}` },
      el("b", {}, t("ob.confirm", words)),
      el("button", { class: "small danger", name: "confirm-flag", onclick: async () => {
        state.choices.delete(p.visit_id);
        const at = clock.now();
        if (await act(`${base}/flag`, { kind: choice.kind, severity: choice.severity }, t("ob.done.flag", words))) {
          state.undos.set(p.visit_id, at + UNDO_MS);
        }
        redrawRow();
      } }, t("ob.yes")),
      el("button", { class: "small", name: "cancel-flag", onclick: () => { choice.confirming = false; redrawRow(); } }, t("ob.no")));
  }
  const flag = el("button", { class: "small danger", name: "flag", disabled: !(choice.kind && choice.severity),
    onclick: () => { choice.confirming = true; redrawRow(); } }, t("ob.flag"));
  const enable = () => { flag.disabled = !(choice.kind && choice.severity); };
  const kind = el("select", { name: "kind", onchange: (e) => { choice.kind = e.target.value; enable(); } },
    el("option", { value: "", selected: !choice.kind }, t("ob.kind")),
    ...KINDS.map((v) => el("option", { value: v, selected: choice.kind === v }, t(`kind.${v}`))));
  const severity = el("select", { name: "severity", onchange: (e) => { choice.severity = e.target.value; enable(); } },
    el("option", { value: "", selected: !choice.severity }, t("ob.severity")),
    ...SEVERITIES.map((v) => el("option", { value: v, selected: choice.severity === v }, t(`sev.${v}`))));
  return el("div", { class: "row actions" }, kind, severity, flag,
    el("span", { class: "spacer" }),
    el("button", { class: "small good", name: "release", disabled: !isDone(p, now), onclick: () => act(`${base}/release`, {}, t("ob.done.released", { ticket })) }, t("ob.release")),
    el("button", { class: "small", name: "left-early", onclick: () => { if (confirm(t("ob.early?", { ticket }))) act(`${base}/left-early`, {}, t("ob.done.early", { ticket })); } }, t("ob.early")));
}

/** What the actions cell depends on: rebuilt only when this changes. */
function rowKey(p, now) {
  const c = state.choices.get(p.visit_id);
  return JSON.stringify([p.adverse_open, p.adverse, isDone(p, now), c ? c.confirming : false, undoLeft(p, now) > 0]);
}

function timeText(p, now) {
  const left = remaining(p, now);
  if (p.adverse_open) return `${clockText(left)} · ${t("ob.held")}`;
  return isDone(p, now) ? t("ob.mayleave") : clockText(left);
}

function render() {
  const now = clock.now();
  const people = [...state.people.values()]
    .filter((p) => !state.filter || p.ticket.includes(state.filter.toUpperCase()))
    .sort((a, b) => (b.adverse_open - a.adverse_open) || (Date.parse(a.ends_at) - Date.parse(b.ends_at)))
    .slice(0, 300);
  $("#count").textContent = t("ob.people", { n: state.people.size });
  const body = $("#rows");
  const keep = new Set(people.map((p) => p.visit_id));
  for (const [id, row] of state.rows) if (!keep.has(id)) { row.tr.remove(); state.rows.delete(id); }
  let previous = null;
  for (const p of people) {
    let row = state.rows.get(p.visit_id);
    if (!row) {
      const time = el("td", { class: "left" });
      const cell = el("td", {});
      const tr = el("tr", { dataset: { ticket: p.ticket } },
        el("td", {}, el("b", {}, p.ticket)), el("td", {}, p.name), el("td", {}, p.product), time, cell);
      row = { tr, time, cell, key: null };
      state.rows.set(p.visit_id, row);
    }
    const sev = p.adverse_open && p.adverse ? p.adverse.severity : "";
    row.tr.className = p.adverse_open ? `flagged sev-${sev}` : (isDone(p, now) ? "done" : "");
    const text = timeText(p, now);
    if (row.time.textContent !== text) row.time.textContent = text;
    const key = rowKey(p, now);
    if (row.key !== key) { row.cell.replaceChildren(actions(p, now)); row.key = key; }
    const undo = row.cell.querySelector("button[name=undo]"); // its countdown, in place
    if (undo) { const words = t("ob.undo", { s: undoLeft(p, now) }); if (undo.textContent !== words) undo.textContent = words; }
    // Move a row only when the order changed (someone flagged, arrived or left).
    const want = previous ? previous.nextSibling : body.firstChild;
    if (want !== row.tr) body.insertBefore(row.tr, want);
    previous = row.tr;
  }
}

function apply(event) {
  const p = event.payload || {};
  if (!event.visit_id || !p.ticket) return;
  if (p.state === "observing" && p.ends_at) {
    const known = state.people.get(event.visit_id);
    const reaction = p.adverse ? { kind: p.adverse, severity: p.severity } : (p.adverse_open && known ? known.adverse : null);
    state.people.set(event.visit_id, { ...p, adverse: p.adverse_open ? reaction : null });
  } else if (LEAVING.has(p.state)) state.people.delete(event.visit_id);
  redraw();
}

const redraw = throttled(() => render(), 300);

async function start(token) {
  state.token = token;
  useDeviceId("observer");
  await new StaffGate({ role: "observer", token, title: t("ob.staff") }).begin();
  const search = el("input", { name: "find", inputmode: "text", oninput: (e) => { state.filter = e.target.value.trim(); render(); } });
  $("#app").replaceChildren(
    el("header", { class: "bar" }, el("h1", {}, t("ob.title")),
      el("span", { id: "count", class: "chip" }), el("span", { id: "feed", class: "chip" }, "…"),
      languagePicker(),
      el("a", { href: "/exit", class: "chip" }, t("ob.exit"))),
    el("main", { class: "observer" }, el("div", { id: "msg" }), el("div", { class: "row" }, el("label", {}, t("ob.find"), search)),
      el("table", {}, el("thead", {}, el("tr", {}, ...[t("ob.ticket"), t("ob.name"), t("ob.product"), t("ob.left"), ""].map((h) => el("th", {}, h)))),
        el("tbody", { id: "rows" }))),
  );
  await clock.start();
  const data = await api(token, "GET", "/api/boards/observation");
  state.people = new Map(data.people.map((p) => [p.visit_id, p]));
  new Feed({ token, since: data.seq, onEvent: apply,
    onStatus: (s) => { const c = $("#feed"); c.textContent = statusText(s); c.className = `chip ${s}`; } }).start();
  render();
  setInterval(render, 1000);
}

function boot() {
  if (store.token) { start(store.token); return; }
  signIn($("#app"), {
    title: t("ob.signin"),
    store,
    verify: async (tok) => {
      await api(tok, "POST", "/api/exit/scan", {}).catch((err) => { if ((err.status === 401 || err.status === 403) && !isStaffError(err)) throw err; });
    },
    done: (tok) => start(tok),
  });
}

window.vaxflowObserver = state;
boot();
