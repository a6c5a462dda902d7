// Station console: sign in (station token, then the vaccinator's staff number + PIN or badge;
// a typed name only where the site does not require staff sign-in), open with product and lot,
// call next / recall / skip, scan the ticket, verify the person, record the dose or defer/refer.
// A switch of manufacturer waits for a signed-in doctor's Approve / Decline with a reason.
// Opening offers today's lots of the product (GET /api/lots); a scanned or typed ticket or ID
// number goes to POST /api/stations/{id}/verify: a big green Match with the person's summary
// (full ID only here, behind Reveal), or a big red MISMATCH saying whose scan it was.
import { $, el, api, t, lang, nameOf, addWords, TokenStore, signIn, StaffGate, isStaffError, timeOfDay, languagePicker } from "/web/common.js";

addWords({
  "s.st.open": ["开放", "開放", "Open"],
  "s.st.paused": ["暂停", "暫停", "Paused"],
  "s.st.closed": ["关闭", "關閉", "Closed"],
  "s.scanned.ticket": ["票据", "票據", "ticket"],
  "s.scanned.id_card": ["证件", "證件", "ID card"],
  "s.by.scan": ["扫描", "掃描", "scanned"],
  "s.by.typed": ["手输", "手輸", "typed"],
  "s.by.id_reader": ["读卡器", "讀卡器", "card reader"],
  "s.full": ["留观区已满，请等有人离开后再叫号", "留觀區已滿，請等有人離開後再叫號", "Observation seats are full — hold calls until people leave"],
  "s.nearly": ["留观区将满，请放慢叫号", "留觀區將滿，請放慢叫號", "Observation seats nearly full — slow down"],
  "s.lotlabel": ["{lot} · {n} 剂{where}", "{lot} · {n} 劑{where}", "{lot} · {n} doses{where}"],
  "s.lot": ["批号", "批號", "Lot"],
  "s.lotscan": ["批号（扫描或输入）", "批號（掃描或輸入）", "Lot (scan or type)"],
  "s.lotsin": ["今日在用批号：", "今日在用批號：", "Lots in use today:"],
  "s.nolots": ["今日尚无此疫苗的在用批号，请扫描或输入", "今日尚無此疫苗的在用批號，請掃描或輸入", "No lot of this product in use today: scan or type it"],
  "s.product": ["疫苗", "疫苗", "Product"],
  "s.open": ["开台", "開台", "Open"],
  "s.reload": ["换批号", "換批號", "Reload"],
  "s.match": ["✔ 核验一致", "✔ 核驗一致", "✔ Match"],
  "s.mismatch": ["✘ 不一致", "✘ 不一致", "✘ MISMATCH"],
  "s.calledscanned": ["叫号：{called} — 扫描的是：", "叫號：{called} — 掃描的是：", "Called: {called} — scanned: "],
  "s.nobody": ["今日无此人", "今日無此人", "nobody checked in today with it"],
  "s.dontvax": ["请勿接种，核对叫号", "請勿接種，核對叫號", "Do not vaccinate: check the call"],
  "s.src.site": ["本站记录", "本站記錄", "site"],
  "s.src.registry": ["免疫规划系统", "免疫規劃系統", "registry"],
  "s.src.service": ["预约系统", "預約系統", "booking service"],
  "s.src.booking": ["预约数据", "預約資料", "booking"],
  "s.reason": ["原因", "原因", "Reason"],
  "s.dosefacts": ["第 {n} 剂 · {product}", "第 {n} 劑 · {product}", "dose {n} · {product}"],
  "s.age": [" · {age} 岁", " · {age} 歲", " · {age} y"],
  "s.allno": ["健康问题均为否", "健康問題均為否", "Screening: all no"],
  "s.record": ["记录接种", "記錄接種", "Record dose"],
  "s.dosed": ["{ticket} 已接种，留观至 {time}", "{ticket} 已接種，留觀至 {time}", "{ticket} dosed: observation until {time}"],
  "s.deferreason": ["暂缓/转诊原因", "暫緩/轉診原因", "Reason"],
  "s.defer": ["暂缓", "暫緩", "Defer"],
  "s.refer": ["转医生", "轉醫生", "Refer"],
  "s.ticket": ["票号", "票號", "Ticket"],
  "s.name": ["姓名", "姓名", "Name"],
  "s.id": ["证件", "證件", "ID"],
  "s.hide": ["隐藏", "隱藏", "Hide"],
  "s.reveal": ["核对", "核對", "Reveal"],
  "s.agelabel": ["年龄", "年齡", "Age"],
  "s.dose": ["剂次", "劑次", "Dose"],
  "s.doseno": ["第 {n} 剂", "第 {n} 劑", "dose {n}"],
  "s.lane": ["通道", "通道", "Lane"],
  "s.walk_in": ["（现场登记）", "（現場登記）", " (walk-in)"],
  "s.guardian": ["监护人", "監護人", "Guardian"],
  "s.review": ["需医生评估：", "需醫生評估：", "Doctor review: "],
  "s.history": ["既往接种", "既往接種", "Earlier doses"],
  "s.screening": ["健康问题", "健康問題", "Screening"],
  "s.yes": ["是", "是", "yes"],
  "s.no": ["否", "否", "no"],
  "s.docreason": ["医生意见", "醫生意見", "Doctor's reason"],
  "s.enterdoc": ["请填写医生意见", "請填寫醫生意見", "Enter the doctor's reason"],
  "s.approved": ["{ticket}：医生已批准换用厂家，可记录接种", "{ticket}：醫生已批准換用廠家，可記錄接種", "{ticket}: switch approved — record the dose"],
  "s.declined": ["{ticket}：医生不批准，今日结束", "{ticket}：醫生不批准，今日結束", "{ticket}: switch declined — visit ended for today"],
  "s.needed": ["需医生决定：换用其他厂家完成全程", "需醫生決定：換用其他廠家完成全程", "Doctor's decision needed: complete the series with another manufacturer"],
  "s.switch": ["上一剂：{product}（{previous}）{date} → 本次：{booked_product}（{booked}）", "上一劑：{product}（{previous}）{date} → 本次：{booked_product}（{booked}）", "Previous: {product} ({previous}) {date} → Today: {booked_product} ({booked})"],
  "s.docapproved": ["医生已批准", "醫生已批准", "Approved"],
  "s.docdeclined": ["医生不批准", "醫生不批准", "Declined"],
  "s.approve": ["批准", "批准", "Approve"],
  "s.decline": ["不批准", "不批准", "Decline"],
  "s.enterreason": ["请填写原因", "請填寫原因", "Enter a reason"],
  "s.done.defer": ["{ticket}：已暂缓", "{ticket}：已暫緩", "{ticket}: deferred"],
  "s.done.refer": ["{ticket}：已转医生", "{ticket}：已轉醫生", "{ticket}: referred"],
  "s.nostation": ["没有接种台 {id}", "沒有接種台 {id}", "No station {id}"],
  "s.scanph": ["扫描或输入票号/证件号", "掃描或輸入票號/證件號", "Scan or type the ticket or ID number"],
  "s.signout": ["退出", "登出", "Sign out"],
  "s.station": ["开台", "開台", "Station"],
  "s.pause": ["暂停", "暫停", "Pause"],
  "s.resume": ["恢复", "恢復", "Resume"],
  "s.close": ["关台", "關台", "Close"],
  "s.calling": ["叫号", "叫號", "Calling"],
  "s.calledn": ["已呼叫 {n} 次", "已呼叫 {n} 次", "called {n}×"],
  "s.callnext": ["叫下一位", "叫下一位", "Call next"],
  "s.recall": ["重呼", "重呼", "Recall"],
  "s.skip": ["过号", "過號", "Skip"],
  "s.ticketorid": ["票号或证件号", "票號或證件號", "Ticket or ID number"],
  "s.verify": ["核验", "核驗", "Verify"],
  "s.holds": ["本台正在服务 ", "本台正在服務 ", "This station holds "],
  "s.holdsscan": ["：请扫描其票据", "：請掃描其票據", ": scan their ticket"],
  "s.holdssomeone": ["本台正在服务一位人员，请扫描其票据", "本台正在服務一位人員，請掃描其票據", "This station holds someone: scan their ticket"],
  "s.nobodywaiting": ["没有人在等候本台的疫苗", "沒有人在等候本台的疫苗", "Nobody is waiting for this station's product"],
  "s.signin": ["接种台 {id} 登录", "接種台 {id} 登入", "Station {id} sign-in"],
  "s.vaccinator": ["接种人员姓名（不用工号登录时填写）", "接種人員姓名（不用工號登入時填寫）", "Vaccinator name, if not signing in with a staff number"],
  "s.staff": ["接种台 {id} 工作人员登录", "接種台 {id} 工作人員登入", "Station {id} staff sign-in"],
});


const stationId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
const store = new TokenStore("station");
const VACCINATOR = "vaxflow.vaccinator";
const CURRENT = `vaxflow.station.${stationId}.ticket`;

const state = { token: null, vaccinator: null, station: null, person: null, called: null, warning: null, message: null, revealed: false, questions: {},
  lots: { product: null, lots: [] }, lotProduct: null, lotDraft: null, verdict: null, decisionDraft: null };

const said = (key, fallback) => { const w = t(key); return w === key ? fallback : w; };
const REASONS = { observation_full: "s.full", observation_nearly_full: "s.nearly" };
/** A {"zh-CN": …, en: …} text from the server in the page's language. */
const inLang = (text, fallback = "") => (text && (text[lang] || text["zh-CN"] || text.en)) || fallback;

function questionText(id) {
  const q = state.questions[id];
  if (!q) return id;
  return inLang(q, id);
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
  return t("s.lotlabel", { lot: lot.lot, n: lot.doses_today, where: where ? ` · ${where}` : "" });
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
  const lot = el("input", { name: "lot", value: state.lotDraft ?? (state.station.lot || ""), placeholder: t("s.lot"), required: true, autocomplete: "off",
    oninput: () => { state.lotDraft = lot.value; } });
  const lots = state.lots.product === chosen ? state.lots.lots : [];
  const choices = el("div", { class: "lot-choices", id: "lots" },
    el("span", { class: "muted" }, lots.length ? t("s.lotsin") : t("s.nolots")),
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
      el("label", {}, t("s.product"), product),
      el("label", {}, t("s.lotscan"), lot),
      el("button", { type: "submit", class: "primary", id: "open-station" }, state.station.state === "closed" ? t("s.open") : t("s.reload"))),
    choices);
}

/** The big answer of the last verification: green match, or red MISMATCH with whose scan. */
function verdictBox(v) {
  const how = `${said(`s.scanned.${v.scanned}`, v.scanned)} · ${said(`s.by.${v.by}`, v.by)}`;
  if (v.match) {
    return el("div", { class: "verdict ok", id: "verdict" },
      el("div", { class: "big" }, t("s.match")),
      el("div", {}, `${v.ticket} ${v.name} — ${how}`));
  }
  const f = v.found;
  return el("div", { class: "verdict bad", id: "verdict" },
    el("div", { class: "big" }, t("s.mismatch")),
    el("div", {}, t("s.calledscanned", { called: v.called }),
      f ? `${f.ticket} ${f.name} ${f.id_number}${f.station_id && f.station_id !== stationId ? ` (${f.station_id})` : ""}` : t("s.nobody"),
      ` — ${how}`),
    el("div", { class: "small" }, t("s.dontvax")));
}

/** Where an earlier dose is known from, in both languages. */

function personCard(p) {
  const items = p.screening_items || Object.entries(p.screening || {}).map(([id, answer]) => ({ id, text: state.questions[id] || {}, answer }));
  const words = (i) => inLang(i.text) || questionText(i.id);
  const full = p.id_number && !p.id_number.includes("*"); // the full number came with this console's verification
  const reasons = p.review_reasons || [];
  const deferReason = el("input", { name: "reason", placeholder: t("s.reason"), required: true });
  const yes = items.filter((i) => i.answer);
  const serving = el("div", { class: "card serving", id: "serving" },
    el("div", { class: "who" },
      el("div", { class: "bigticket" }, p.ticket),
      el("div", { class: "facts" },
        el("b", { class: "name" }, p.name),
        el("span", {}, t("s.dosefacts", { n: p.dose_number, product: p.product }) + (p.age !== null && p.age !== undefined ? t("s.age", { age: p.age }) : "")),
        yes.length ? el("span", { class: "yes" }, `⚠ ${yes.map(words).join("; ")}`) : el("span", { class: "muted" }, t("s.allno")))),
    el("div", { class: "actions" },
      el("button", { class: "good big", id: "record-dose", disabled: !!(p.doctor_decisions && p.doctor_decisions.needed.length), onclick: async () => {
        const done = await post("record-dose", { visit_id: p.visit_id });
        state.message = { kind: "ok", text: t("s.dosed", { ticket: done.ticket, time: timeOfDay(Date.parse(done.ends_at)) }) };
        state.person = null; state.verdict = null; sessionStorage.removeItem(CURRENT);
        await refresh();
      } }, t("s.record")),
      el("form", { class: "row", onsubmit: (e) => e.preventDefault() },
        el("label", { style: "flex: 1" }, t("s.deferreason"), deferReason),
        el("button", { class: "danger", onclick: () => outcome("defer", p, deferReason.value) }, t("s.defer")),
        el("button", { onclick: () => outcome("refer", p, deferReason.value) }, t("s.refer")))));
  const details = el("div", { class: "card person", id: "person" },
    el("dl", {},
      el("dt", {}, t("s.ticket")), el("dd", {}, p.ticket),
      el("dt", {}, t("s.name")), el("dd", {}, p.name),
      el("dt", {}, t("s.id")), el("dd", { id: "id-number" }, state.revealed && full ? p.id_number : maskId(p.id_number), " ",
        full ? el("button", { class: "small", id: "reveal", onclick: () => { state.revealed = !state.revealed; render(); } }, state.revealed ? t("s.hide") : t("s.reveal")) : null),
      el("dt", {}, t("s.agelabel")), el("dd", {}, p.age ?? "—"),
      el("dt", {}, t("s.dose")), el("dd", {}, t("s.doseno", { n: p.dose_number })),
      el("dt", {}, t("s.product")), el("dd", {}, p.product),
      el("dt", {}, t("s.lane")), el("dd", {}, p.lane + (p.walk_in ? t("s.walk_in") : "")),
      ...(p.guardian ? [el("dt", {}, t("s.guardian")), el("dd", { id: "guardian" },
        `${p.guardian.name} · ${inLang(p.guardian.relation_text)} · ${p.guardian.id_number}`)] : [])),
    (p.flags || []).length ? el("div", { class: "flags", id: "flags" }, ...p.flags.map((f) => el("span", { class: `flag ${f.code}` }, inLang(f.text, f.code)))) : null,
    reasons.length ? el("div", { class: "banner warn" }, t("s.review"), reasons.join(", ")) : null,
    el("h3", {}, t("s.history")),
    el("ul", { class: "history", id: "history" }, ...((p.history || []).length
      ? p.history.map((d) => el("li", {}, `${d.date} ${d.product} (${d.manufacturer}) — ${d.sources.map((s) => said(`s.src.${s}`, s)).join(", ")}`))
      : [el("li", { class: "muted" }, "—")])),
    el("h3", {}, t("s.screening")),
    el("ul", { class: "answers", id: "answers" }, ...(items.length ? items.map((i) => el("li", { class: i.answer ? "yes" : "" }, `${words(i)} — ${i.answer ? t("s.yes") : t("s.no")}`)) : [el("li", { class: "muted" }, "—")])),
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
  const reason = el("input", { name: "decision-reason", id: "decision-reason", placeholder: t("s.docreason"), required: true,
    value: state.decisionDraft || "", oninput: () => { state.decisionDraft = reason.value; } });
  const decide = async (approve) => {
    if (!reason.value.trim()) { state.message = { kind: "warn", text: t("s.enterdoc") }; render(); return; }
    state.message = null;
    let answer;
    try {
      answer = await call("POST", `/api/visits/${p.visit_id}/decisions`, { kind: "manufacturer_switch", approve, reason: reason.value.trim() });
    } catch (err) { return; } // shown by call(); a sign-in the server asked for opens over the page
    state.decisionDraft = null;
    if (approve) {
      state.person = { ...p, doctor_decisions: { needed: [], recorded: [answer.decision] } };
      state.message = { kind: "ok", text: t("s.approved", { ticket: p.ticket }) };
      render();
    } else {
      state.message = { kind: "ok", text: t("s.declined", { ticket: p.ticket }) };
      state.person = null; state.verdict = null; sessionStorage.removeItem(CURRENT);
      await refresh();
    }
  };
  return el("div", { class: "card decision", id: "decision" },
    ...needed.map((n) => el("div", { class: "banner bad" },
      t("s.needed"),
      n.previous ? el("div", { class: "switch" }, t("s.switch", n)) : null)),
    ...recorded.map((d) => el("div", { class: `banner ${d.approve ? "ok" : "warn"}`, id: "decision-recorded" },
      `${d.approve ? t("s.docapproved") : t("s.docdeclined")} — ${d.previous} → ${d.booked} — ${d.decided_by}: ${d.reason}`)),
    needed.length ? el("form", { class: "row", onsubmit: (e) => e.preventDefault() },
      el("label", { style: "flex: 1" }, t("s.docreason"), reason),
      el("button", { class: "good", id: "approve-switch", onclick: () => decide(true) }, t("s.approve")),
      el("button", { class: "danger", id: "decline-switch", onclick: () => decide(false) }, t("s.decline"))) : null);
}

async function outcome(action, p, reason) {
  if (!reason.trim()) { state.message = { kind: "warn", text: t("s.enterreason") }; render(); return; }
  await post(action, { visit_id: p.visit_id, reason });
  state.message = { kind: "ok", text: t(`s.done.${action}`, { ticket: p.ticket }) };
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
  if (!s) { root.replaceChildren(el("p", { class: "error" }, t("s.nostation", { id: stationId }))); return; }
  // A scanner types a whole code within a few hundred milliseconds; a person takes longer.
  const keys = { first: 0, count: 0 };
  const scan = el("input", { name: "code", id: "scan", placeholder: t("s.scanph"), autocomplete: "off",
    onkeydown: (e) => { if (e.key.length === 1) { if (!keys.count) keys.first = performance.now(); keys.count += 1; } } });
  const card = state.person ? personCard(state.person) : null;
  const howEntered = () => (keys.count >= 4 && (performance.now() - keys.first) / keys.count < 35 ? "scan" : "typed");
  root.replaceChildren(
    el("header", { class: "bar" },
      el("h1", {}, `${nameOf(s.names, s.name)}（${nameOf(s.zone_names, s.zone)}）`),
      el("span", { class: "chip", id: "station-state", dataset: { state: s.state } }, said(`s.st.${s.state}`, s.state)),
      el("span", { class: "chip" }, s.product ? `${s.product} · ${s.lot}` : "—"),
      el("span", { class: "chip", id: "vaccinator" }, state.vaccinator || "—"),
      el("button", { class: "small", onclick: async () => { if (state.gate) await state.gate.signOut(); store.clear(); sessionStorage.removeItem(VACCINATOR); location.reload(); } }, t("s.signout")), languagePicker()),
    el("main", { class: card ? "serving-now" : "" },
      state.verdict ? verdictBox(state.verdict) : null,
      state.message ? el("div", { class: `banner ${state.message.kind}`, id: "message" }, state.message.text) : null,
      state.warning ? el("div", { class: "banner warn", id: "warning" }, REASONS[state.warning.reason] ? t(REASONS[state.warning.reason]) : state.warning.reason, ` (${state.warning.observing}/${state.warning.seats})`) : null,
      card ? card.serving : null,
      card ? decisionBox(state.person) : null,
      el("div", { class: "grid2" },
        el("section", { class: "card" },
          el("h2", {}, t("s.station")),
          openForm(),
          el("div", { class: "row", style: "margin-top: .8rem" },
            s.state === "open" ? el("button", { onclick: async () => { await post("pause"); await refresh(); } }, t("s.pause")) : null,
            s.state === "paused" ? el("button", { onclick: async () => { await post("resume"); await refresh(); } }, t("s.resume")) : null,
            s.state !== "closed" ? el("button", { onclick: async () => { await post("close"); await refresh(); } }, t("s.close")) : null)),
        el("section", { class: "card" },
          el("h2", {}, t("s.calling")),
          state.called ? el("div", { id: "called" }, el("div", { class: "bigticket" }, state.called.ticket), el("p", { class: "muted" }, t("s.calledn", { n: state.called.call_count })))
            : el("p", { class: "muted", id: "called" }, s.visit_id && !state.person ? held(s) : "—"),
          el("div", { class: "row" },
            el("button", { class: "primary", id: "call-next", disabled: s.state !== "open" || !!s.visit_id, onclick: callNext }, t("s.callnext")),
            el("button", { disabled: !state.called, onclick: async () => { state.called = await post("recall", {}); render(); } }, t("s.recall")),
            el("button", { disabled: !state.called, onclick: async () => { await post("skip"); state.called = null; state.verdict = null; sessionStorage.removeItem(CURRENT); await refresh(); } }, t("s.skip"))),
          el("form", { class: "row", style: "margin-top: .8rem", onsubmit: async (e) => {
              e.preventDefault();
              await verify(scan.value.trim(), howEntered());
            } },
            el("label", { style: "flex: 1" }, t("s.ticketorid"), scan),
            el("button", { type: "submit", id: "verify" }, t("s.verify"))))),
      el("div", { style: "margin-top: 1rem" }, card ? card.details : null)),
  );
  if (s.visit_id && !state.person) scan.focus();
}

/** Whom this station holds (called or being served) when this console does not know: their
 * ticket and masked name, so the vaccinator knows whose ticket to scan. */
function held(s) {
  const h = s.held;
  if (!h) return t("s.holdssomeone");
  return el("span", { id: "held" }, t("s.holds"), el("b", {}, `${h.ticket} ${h.name}`), t("s.holdsscan"));
}

async function callNext() {
  const answer = await post("call-next");
  state.verdict = null;
  state.warning = answer.warning || null;
  if (answer.called) {
    state.called = answer.called;
    sessionStorage.setItem(CURRENT, answer.called.ticket);
  } else {
    state.message = { kind: "warn", text: t("s.nobodywaiting") };
  }
  await refresh();
}

function boot() {
  const token = store.token;
  const vaccinator = sessionStorage.getItem(VACCINATOR);
  if (token) { start(token, vaccinator); return; }
  signIn($("#app"), {
    title: t("s.signin", { id: stationId }),
    store,
    fields: [{ name: "vaccinator", label: t("s.vaccinator"), optional: true }],
    verify: async (t) => {
      const stations = await api(t, "GET", "/api/stations");
      if (!stations.some((s) => s.station_id === stationId)) throw new Error(t("s.nostation", { id: stationId }));
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
  state.gate = new StaffGate({ role: "station", token, title: t("s.staff", { id: stationId }) });
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
