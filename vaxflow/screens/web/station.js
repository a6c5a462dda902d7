// Station console: sign in (station token, then the vaccinator's staff number + PIN or badge;
// a typed name only where the site does not require staff sign-in), open with product and lot,
// call next / recall / skip, scan the ticket, verify the person, record the dose or defer/refer.
// A switch of manufacturer waits for a signed-in doctor's Approve / Decline with a reason.
// Opening offers today's lots of the product (GET /api/lots); a scanned or typed ticket or ID
// number goes to POST /api/stations/{id}/verify: a big green Match with the person's summary
// (full ID only here, behind Reveal), or a big red MISMATCH saying whose scan it was.
import { $, el, api, nameOf, TokenStore, signIn, StaffGate, isStaffError, timeOfDay } from "/web/common.js";

const stationId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const store = new TokenStore("station");
const VACCINATOR = "vaxflow.vaccinator";
const CURRENT = `vaxflow.station.${stationId}.ticket`;

const state = { token: null, vaccinator: null, station: null, person: null, called: null, warning: null, message: null, revealed: false, questions: {},
  lots: { product: null, lots: [] }, lotProduct: null, lotDraft: null, verdict: null, decisionDraft: null };

const STATE_NAMES = { open: "开放 Open", paused: "暂停 Paused", closed: "关闭 Closed" };
const SCANNED = { ticket: "票据 ticket", id_card: "证件 ID card" };
const BY = { scan: "扫描 scanned", typed: "手输 typed", id_reader: "读卡器 card reader" };
const REASONS = {
  observation_full: "留观区已满 Observation seats are full — hold calls until people leave",
  observation_nearly_full: "留观区将满 Observation seats nearly full — slow down",
};

function questionText(id) {
  const q = state.questions[id];
  if (!q) return id;
  return [q["zh-CN"], q.en].filter(Boolean).join(" / ") || id;
}

function maskId(id) {
  if (!id || id.length <= 8) return id || "";
  return id.slice(0, 4) + "*".repeat(id.length - 8) + id.slice(-4);
}

async function call(method, path, body) {
  try {
    return await api(state.token, method, path, body);
  } catch (err) {
    if (err.status === 401 && !isStaffError(err)) { store.clear(); boot(); }
    state.message = { kind: "bad", text: `${err.words} (${err.reason})` };
    render();
    throw err;
  }
}

async function refresh() {
  const stations = await call("GET", "/api/stations");
  state.station = stations.find((s) => s.station_id === stationId) || null;
  const ticket = sessionStorage.getItem(CURRENT);
  if (state.station && state.station.visit_id && ticket) {
    try {
      const visit = await call("GET", `/api/tickets/${encodeURIComponent(ticket)}`);
      if (visit.visit_id === state.station.visit_id) {
        if (visit.state === "in_service") state.person = visit; else state.called = visit;
      }
    } catch (err) { /* shown */ }
  }
  if (state.station && !state.station.visit_id) { state.person = null; state.called = null; }
  if (state.station) await loadLots(state.lotProduct || state.station.product || state.station.products[0]);
  render();
}

/** Today's lots of `product` (most used first, doses today, stations that have it now). */
async function loadLots(product) {
  if (!product) return;
  try {
    const answer = await api(state.token, "GET", `/api/lots?product=${encodeURIComponent(product)}`);
    state.lots = { product, lots: answer.lots };
  } catch (err) { state.lots = { product, lots: [] }; } // typing the lot still works
}

function lotLabel(lot) {
  const where = lot.stations.map((s) => s.station_id).join(" ");
  return `${lot.lot} · ${lot.doses_today} 剂 doses${where ? ` · ${where}` : ""}`;
}

function post(action, body) {
  state.message = null; // a new action replaces the last one's message
  return call("POST", `/api/stations/${encodeURIComponent(stationId)}/${action}`, body || {});
}

function openForm() {
  const products = state.station ? state.station.products : [];
  const chosen = state.lotProduct || state.station.product || products[0];
  const product = el("select", { name: "product", onchange: async () => {
      state.lotProduct = product.value; state.lotDraft = null;
      await loadLots(product.value); render();
    } }, ...products.map((p) => el("option", { value: p, selected: chosen === p }, p)));
  const lot = el("input", { name: "lot", value: state.lotDraft ?? (state.station.lot || ""), placeholder: "批号 Lot", required: true, autocomplete: "off",
    oninput: () => { state.lotDraft = lot.value; } });
  const lots = state.lots.product === chosen ? state.lots.lots : [];
  const choices = el("div", { class: "lot-choices", id: "lots" },
    el("span", { class: "muted" }, lots.length ? "今日在用批号 Lots in use today:" : "今日尚无在用批号，请扫描或输入 No lot of this product in use today: scan or type it"),
    ...lots.slice(0, 6).map((x) => el("button", { type: "button", class: `lot-choice${lot.value === x.lot ? " chosen" : ""}`, dataset: { lot: x.lot },
      onclick: () => { state.lotDraft = x.lot; render(); } }, lotLabel(x))));
  return el("div", {},
    el("form", { class: "row", onsubmit: async (e) => {
        e.preventDefault();
        try {
          await post("open", { product: product.value, lot: lot.value.trim(), ...(state.vaccinator ? { vaccinator: state.vaccinator } : {}) });
        } catch (err) {
          // Nobody signs the doses yet: ask the vaccinator to sign in, then Open again.
          if (err.reason === "vaccinator_required" && state.gate) state.gate.ask();
          return;
        }
        state.lotDraft = null; state.lotProduct = null;
        await refresh();
      } },
      el("label", {}, "疫苗 Product", product),
      el("label", {}, "批号 Lot (scan or type)", lot),
      el("button", { type: "submit", class: "primary" }, state.station.state === "closed" ? "开台 Open" : "换批号 Reload")),
    choices);
}

/** The big answer of the last verification: green match, or red MISMATCH with whose scan. */
function verdictBox(v) {
  const how = `${SCANNED[v.scanned] || v.scanned} · ${BY[v.by] || v.by}`;
  if (v.match) {
    return el("div", { class: "verdict ok", id: "verdict" },
      el("div", { class: "big" }, "✔ 核验一致 Match"),
      el("div", {}, `${v.ticket} ${v.name} — ${how}`));
  }
  const f = v.found;
  return el("div", { class: "verdict bad", id: "verdict" },
    el("div", { class: "big" }, "✘ 不一致 MISMATCH"),
    el("div", {}, `叫号 Called: ${v.called} — 扫描的是 scanned: `,
      f ? `${f.ticket} ${f.name} ${f.id_number}${f.station_id && f.station_id !== stationId ? ` (${f.station_id})` : ""}` : "今日无此人 nobody checked in today with it",
      ` — ${how}`),
    el("div", { class: "small" }, "请勿接种，核对叫号 Do not vaccinate: check the call"));
}

/** Where an earlier dose is known from, in both languages. */
const SOURCE = { site: "本站记录 site", registry: "免疫规划系统 registry", service: "预约系统 booking service", booking: "预约数据 booking" };

function personCard(p) {
  const items = p.screening_items || Object.entries(p.screening || {}).map(([id, answer]) => ({ id, text: state.questions[id] || {}, answer }));
  const words = (i) => [i.text["zh-CN"], i.text.en].filter(Boolean).join(" / ") || questionText(i.id);
  const full = p.id_number && !p.id_number.includes("*"); // the full number came with this console's verification
  const reasons = p.review_reasons || [];
  const deferReason = el("input", { name: "reason", placeholder: "原因 Reason", required: true });
  const yes = items.filter((i) => i.answer);
  const serving = el("div", { class: "card serving", id: "serving" },
    el("div", { class: "who" },
      el("div", { class: "bigticket" }, p.ticket),
      el("div", { class: "facts" },
        el("b", { class: "name" }, p.name),
        el("span", {}, `第 ${p.dose_number} 剂 dose ${p.dose_number} · ${p.product}${p.age !== null && p.age !== undefined ? ` · ${p.age} 岁 y` : ""}`),
        yes.length ? el("span", { class: "yes" }, `⚠ ${yes.map(words).join("; ")}`) : el("span", { class: "muted" }, "健康问题均为否 Screening: all no"))),
    el("div", { class: "actions" },
      el("button", { class: "good big", id: "record-dose", disabled: !!(p.doctor_decisions && p.doctor_decisions.needed.length), onclick: async () => {
        const done = await post("record-dose", { visit_id: p.visit_id });
        state.message = { kind: "ok", text: `${done.ticket} 已接种，留观至 observation until ${timeOfDay(Date.parse(done.ends_at))}` };
        state.person = null; state.verdict = null; sessionStorage.removeItem(CURRENT);
        await refresh();
      } }, "记录接种 Record dose"),
      el("form", { class: "row", onsubmit: (e) => e.preventDefault() },
        el("label", { style: "flex: 1" }, "暂缓/转诊原因 Reason", deferReason),
        el("button", { class: "danger", onclick: () => outcome("defer", p, deferReason.value) }, "暂缓 Defer"),
        el("button", { onclick: () => outcome("refer", p, deferReason.value) }, "转医生 Refer"))));
  const details = el("div", { class: "card person", id: "person" },
    el("dl", {},
      el("dt", {}, "票号 Ticket"), el("dd", {}, p.ticket),
      el("dt", {}, "姓名 Name"), el("dd", {}, p.name),
      el("dt", {}, "证件 ID"), el("dd", { id: "id-number" }, state.revealed && full ? p.id_number : maskId(p.id_number), " ",
        full ? el("button", { class: "small", onclick: () => { state.revealed = !state.revealed; render(); } }, state.revealed ? "隐藏 Hide" : "核对 Reveal") : null),
      el("dt", {}, "年龄 Age"), el("dd", {}, p.age ?? "—"),
      el("dt", {}, "剂次 Dose"), el("dd", {}, `第 ${p.dose_number} 剂 dose ${p.dose_number}`),
      el("dt", {}, "疫苗 Product"), el("dd", {}, p.product),
      el("dt", {}, "通道 Lane"), el("dd", {}, p.lane + (p.walk_in ? " (walk-in)" : "")),
      ...(p.guardian ? [el("dt", {}, "监护人 Guardian"), el("dd", { id: "guardian" },
        `${p.guardian.name} · ${p.guardian.relation_text["zh-CN"]} ${p.guardian.relation_text.en} · ${p.guardian.id_number}`)] : [])),
    (p.flags || []).length ? el("div", { class: "flags", id: "flags" }, ...p.flags.map((f) => el("span", { class: `flag ${f.code}` }, `${f.text["zh-CN"]} ${f.text.en}`))) : null,
    reasons.length ? el("div", { class: "banner warn" }, "需医生评估 Doctor review: ", reasons.join(", ")) : null,
    el("h3", {}, "既往接种 Earlier doses"),
    el("ul", { class: "history", id: "history" }, ...((p.history || []).length
      ? p.history.map((d) => el("li", {}, `${d.date} ${d.product} (${d.manufacturer}) — ${d.sources.map((s) => SOURCE[s] || s).join(", ")}`))
      : [el("li", { class: "muted" }, "—")])),
    el("h3", {}, "健康问题 Screening"),
    el("ul", { class: "answers", id: "answers" }, ...(items.length ? items.map((i) => el("li", { class: i.answer ? "yes" : "" }, `${words(i)} — ${i.answer ? "是 yes" : "否 no"}`)) : [el("li", { class: "muted" }, "—")])),
  );
  return { serving, details };
}

/** The doctor's decisions this person waits for (another manufacturer to complete the series):
 * Approve lets the dose be recorded, Decline ends the visit for today; both need a reason and a
 * signed-in staff member (POST /api/visits/{id}/decisions), and are audited with their name. */
function decisionBox(p) {
  const known = p.doctor_decisions;
  const waiting = (p.review_reasons || []).includes("manufacturer_switch_needs_doctor");
  const needed = known ? known.needed : (waiting ? [{ kind: "manufacturer_switch" }] : []);
  const recorded = known ? known.recorded : [];
  if (!needed.length && !recorded.length) return null;
  // kept across re-renders (a staff sign-in in between redraws the page)
  const reason = el("input", { name: "decision-reason", id: "decision-reason", placeholder: "医生意见 Doctor's reason", required: true,
    value: state.decisionDraft || "", oninput: () => { state.decisionDraft = reason.value; } });
  const decide = async (approve) => {
    if (!reason.value.trim()) { state.message = { kind: "warn", text: "请填写医生意见 Enter the doctor's reason" }; render(); return; }
    state.message = null;
    let answer;
    try {
      answer = await call("POST", `/api/visits/${p.visit_id}/decisions`, { kind: "manufacturer_switch", approve, reason: reason.value.trim() });
    } catch (err) { return; } // shown by call(); a sign-in the server asked for opens over the page
    state.decisionDraft = null;
    if (approve) {
      state.person = { ...p, doctor_decisions: { needed: [], recorded: [answer.decision] } };
      state.message = { kind: "ok", text: `${p.ticket}: 医生已批准换用厂家 switch approved — 可记录接种 record the dose` };
      render();
    } else {
      state.message = { kind: "ok", text: `${p.ticket}: 医生不批准，今日结束 switch declined — visit ended for today` };
      state.person = null; state.verdict = null; sessionStorage.removeItem(CURRENT);
      await refresh();
    }
  };
  return el("div", { class: "card decision", id: "decision" },
    ...needed.map((n) => el("div", { class: "banner bad" },
      "需医生决定：换用其他厂家完成全程 Doctor's decision needed: complete the series with another manufacturer",
      n.previous ? el("div", { class: "switch" }, `上一剂 Previous: ${n.product} (${n.previous}) ${n.date} → 本次 Today: ${n.booked_product} (${n.booked})`) : null)),
    ...recorded.map((d) => el("div", { class: `banner ${d.approve ? "ok" : "warn"}`, id: "decision-recorded" },
      `${d.approve ? "医生已批准 Approved" : "医生不批准 Declined"} — ${d.previous} → ${d.booked} — ${d.decided_by}: ${d.reason}`)),
    needed.length ? el("form", { class: "row", onsubmit: (e) => e.preventDefault() },
      el("label", { style: "flex: 1" }, "医生意见 Reason", reason),
      el("button", { class: "good", id: "approve-switch", onclick: () => decide(true) }, "批准 Approve"),
      el("button", { class: "danger", id: "decline-switch", onclick: () => decide(false) }, "不批准 Decline")) : null);
}

async function outcome(action, p, reason) {
  if (!reason.trim()) { state.message = { kind: "warn", text: "请填写原因 Enter a reason" }; render(); return; }
  await post(action, { visit_id: p.visit_id, reason });
  state.message = { kind: "ok", text: `${p.ticket}: ${action}` };
  state.person = null; state.verdict = null; sessionStorage.removeItem(CURRENT);
  await refresh();
}

/** Send a scanned or typed ticket / ID number to verify against this station's call. */
async function verify(code, by) {
  if (!code) return;
  const answer = await post("verify", { code, by });
  const v = answer.visit;
  state.verdict = { match: answer.match, scanned: answer.scanned, by, found: answer.found, called: v.ticket, ticket: v.ticket, name: v.name };
  if (answer.match) {
    state.person = v; state.called = null; state.revealed = false;
    sessionStorage.setItem(CURRENT, v.ticket);
  }
  render();
}

function render() {
  const s = state.station;
  const root = $("#app");
  if (!s) { root.replaceChildren(el("p", { class: "error" }, `No station ${stationId}`)); return; }
  // A scanner types a whole code within a few hundred milliseconds; a person takes longer.
  const keys = { first: 0, count: 0 };
  const scan = el("input", { name: "code", id: "scan", placeholder: "扫描或输入票号/证件号 Scan or type the ticket or ID number", autocomplete: "off",
    onkeydown: (e) => { if (e.key.length === 1) { if (!keys.count) keys.first = performance.now(); keys.count += 1; } } });
  const card = state.person ? personCard(state.person) : null;
  const howEntered = () => (keys.count >= 4 && (performance.now() - keys.first) / keys.count < 35 ? "scan" : "typed");
  root.replaceChildren(
    el("header", { class: "bar" },
      el("h1", {}, `${nameOf(s.names, s.name)}（${nameOf(s.zone_names, s.zone)}）`),
      el("span", { class: "chip", id: "station-state" }, STATE_NAMES[s.state] || s.state),
      el("span", { class: "chip" }, s.product ? `${s.product} · ${s.lot}` : "—"),
      el("span", { class: "chip", id: "vaccinator" }, state.vaccinator || "—"),
      el("button", { class: "small", onclick: async () => { if (state.gate) await state.gate.signOut(); store.clear(); sessionStorage.removeItem(VACCINATOR); location.reload(); } }, "退出 Sign out")),
    el("main", { class: card ? "serving-now" : "" },
      state.verdict ? verdictBox(state.verdict) : null,
      state.message ? el("div", { class: `banner ${state.message.kind}`, id: "message" }, state.message.text) : null,
      state.warning ? el("div", { class: "banner warn", id: "warning" }, REASONS[state.warning.reason] || state.warning.reason, ` (${state.warning.observing}/${state.warning.seats})`) : null,
      card ? card.serving : null,
      card ? decisionBox(state.person) : null,
      el("div", { class: "grid2" },
        el("section", { class: "card" },
          el("h2", {}, "开台 Station"),
          openForm(),
          el("div", { class: "row", style: "margin-top: .8rem" },
            s.state === "open" ? el("button", { onclick: async () => { await post("pause"); await refresh(); } }, "暂停 Pause") : null,
            s.state === "paused" ? el("button", { onclick: async () => { await post("resume"); await refresh(); } }, "恢复 Resume") : null,
            s.state !== "closed" ? el("button", { onclick: async () => { await post("close"); await refresh(); } }, "关台 Close") : null)),
        el("section", { class: "card" },
          el("h2", {}, "叫号 Calling"),
          state.called ? el("div", { id: "called" }, el("div", { class: "bigticket" }, state.called.ticket), el("p", { class: "muted" }, `已呼叫 ${state.called.call_count} 次 called ${state.called.call_count}×`))
            : el("p", { class: "muted", id: "called" }, s.visit_id && !state.person ? held(s) : "—"),
          el("div", { class: "row" },
            el("button", { class: "primary", id: "call-next", disabled: s.state !== "open" || !!s.visit_id, onclick: callNext }, "叫下一位 Call next"),
            el("button", { disabled: !state.called, onclick: async () => { state.called = await post("recall", {}); render(); } }, "重呼 Recall"),
            el("button", { disabled: !state.called, onclick: async () => { await post("skip"); state.called = null; state.verdict = null; sessionStorage.removeItem(CURRENT); await refresh(); } }, "过号 Skip")),
          el("form", { class: "row", style: "margin-top: .8rem", onsubmit: async (e) => {
              e.preventDefault();
              await verify(scan.value.trim(), howEntered());
            } },
            el("label", { style: "flex: 1" }, "票号或证件号 Ticket or ID number", scan),
            el("button", { type: "submit" }, "核验 Verify")))),
      el("div", { style: "margin-top: 1rem" }, card ? card.details : null)),
  );
  if (s.visit_id && !state.person) scan.focus();
}

/** Whom this station holds (called or being served) when this console does not know: their
 * ticket and masked name, so the vaccinator knows whose ticket to scan. */
function held(s) {
  const h = s.held;
  if (!h) return "本台正在服务一位人员，请扫描其票据 This station holds someone: scan their ticket";
  return el("span", { id: "held" }, "本台正在服务 This station holds ", el("b", {}, `${h.ticket} ${h.name}`), "：请扫描其票据 scan their ticket");
}

async function callNext() {
  const answer = await post("call-next");
  state.verdict = null;
  state.warning = answer.warning || null;
  if (answer.called) {
    state.called = answer.called;
    sessionStorage.setItem(CURRENT, answer.called.ticket);
  } else {
    state.message = { kind: "warn", text: "没有人在等候 Nobody is waiting for this station's product" };
  }
  await refresh();
}

function boot() {
  const token = store.token;
  const vaccinator = sessionStorage.getItem(VACCINATOR);
  if (token) { start(token, vaccinator); return; }
  signIn($("#app"), {
    title: `接种台 ${stationId} Station sign-in`,
    store,
    fields: [{ name: "vaccinator", label: "接种人员姓名（不用工号登录时填写） Vaccinator name, if not signing in with a staff number", optional: true }],
    verify: async (t) => {
      const stations = await api(t, "GET", "/api/stations");
      if (!stations.some((s) => s.station_id === stationId)) throw new Error(`No station ${stationId}`);
      // Only a station token may dose: an empty body is refused as invalid (400, nothing
      // changes) for the station role and as forbidden (403) for every other role.
      await api(t, "POST", `/api/stations/${encodeURIComponent(stationId)}/record-dose`, {}).catch((err) => {
        if ((err.status === 403 || err.status === 401) && !isStaffError(err)) throw err;
      });
    },
    done: (t, values) => {
      const name = (values.vaccinator || "").trim() || null; // optional: nobody typed is no name, not ""
      if (name) sessionStorage.setItem(VACCINATOR, name); else sessionStorage.removeItem(VACCINATOR);
      start(t, name);
    },
  });
}

async function start(token, vaccinator) {
  state.token = token;
  // The signed-in person signs the doses; the typed name only when nobody is signed in.
  state.gate = new StaffGate({ role: "station", token, title: `接种台 ${stationId} 工作人员登录 Staff sign-in` });
  const person = await state.gate.begin();
  state.vaccinator = person ? person.label : vaccinator;
  window.addEventListener("vaxflow-staff", (e) => { state.vaccinator = e.detail ? e.detail.label : vaccinator; if (state.station) render(); });
  try {
    const questions = await api(token, "GET", "/api/questions");
    state.questions = Object.fromEntries(questions.map((q) => [q.id, q.text]));
  } catch (err) { /* the ids are shown instead */ }
  await refresh();
  setInterval(() => { if (!state.person && document.activeElement?.id !== "scan" && document.activeElement?.tagName !== "INPUT") refresh(); }, 15000);
}

boot();
