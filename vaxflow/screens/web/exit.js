// Exit point: scan the ticket → "you may leave" and the vaccination certificate (printed by the
// server when an exit printer is configured), or the minutes still to wait. Certificates the
// printer failed to print stay listed "to reprint" (live from the feed) until reprinted.
import { $, el, api, t, addWords, TokenStore, Feed, signIn, statusText, StaffGate, isStaffError, languagePicker } from "/web/common.js";

addWords({
  "x.title": ["出口", "出口", "Exit"],
  "x.signin": ["出口登录", "出口登入", "Exit sign-in"],
  "x.staff": ["出口 工作人员登录", "出口 工作人員登入", "Exit staff sign-in"],
  "x.observer": ["留观", "留觀", "Observer"],
  "x.scan": ["扫描票据", "掃描票據", "Scan the ticket"],
  "x.check": ["查询", "查詢", "Check"],
  "x.leave": ["{ticket} 可以离开，谢谢！", "{ticket} 可以離開，謝謝！", "{ticket}: you may leave — thank you!"],
  "x.held": ["{ticket} 请勿离开，请联系医护人员", "{ticket} 請勿離開，請聯繫醫護人員", "{ticket}: please stay — see the medical staff"],
  "x.wait": ["{ticket} 还需留观 {n} 分钟", "{ticket} 還需留觀 {n} 分鐘", "{ticket}: please wait {n} more min"],
  "x.printing": ["凭证打印中", "憑證列印中", "Certificate printing"],
  "x.print": ["打印本页", "列印本頁", "Print this page"],
  "x.notprinted": ["凭证未打印，已列入补打", "憑證未列印，已列入補印", "Not printed — listed to reprint"],
  "x.reprints": ["待补打凭证（{n}）", "待補印憑證（{n}）", "Certificates to reprint ({n})"],
  "x.ticket": ["票号", "票號", "Ticket"],
  "x.name": ["姓名", "姓名", "Name"],
  "x.vaccine": ["疫苗", "疫苗", "Vaccine"],
  "x.why": ["原因", "原因", "Why"],
  "x.reprint": ["补打", "補印", "Reprint"],
  "x.allprinted": ["暂无，全部已打印", "暫無，全部已列印", "None — all printed"],
  "x.reprinted": ["{ticket} 凭证已补打", "{ticket} 憑證已補印", "{ticket}: certificate reprinted"],
  "x.record": ["预防接种凭证", "預防接種憑證", "Vaccination record"],
  "x.id": ["证件", "證件", "ID"],
  "x.manufacturer": ["生产企业", "生產企業", "Manufacturer"],
  "x.lot": ["批号", "批號", "Lot"],
  "x.dose": ["剂次", "劑次", "Dose"],
  "x.date": ["日期", "日期", "Date"],
  "x.next": ["下一剂", "下一劑", "Next dose"],
  "x.complete": ["已完成全程", "已完成全程", "Series complete"],
  "f.offline": ["离线", "離線", "offline"],
  "f.paper_out": ["缺纸", "缺紙", "out of paper"],
  "f.cover_open": ["纸仓盖打开", "紙倉蓋打開", "cover open"],
  "f.timeout": ["无响应", "無回應", "not answering"],
  "f.lost": ["打印中断", "列印中斷", "interrupted"],
  "f.error": ["故障", "故障", "fault"],
});
const FAULTS = new Set(["offline", "paper_out", "cover_open", "timeout", "lost", "error"]);

const store = new TokenStore("observer");
const state = { token: null, reprints: [], printer: false, note: null };
const CERTIFICATE_EVENTS = new Set(["certificate_queued", "certificate_printed", "certificate_print_failed"]);

function certificate(c) {
  const next = c.next_dose
    ? `${c.next_dose.earliest} — ${c.next_dose.latest || "…"}`
    : t("x.complete");
  return el("div", { class: "certificate", id: "certificate" },
    el("div", { class: "muted", style: "text-align:center;color:#555" }, c.site_name),
    el("h2", {}, t("x.record")),
    el("dl", {},
      el("dt", {}, t("x.name")), el("dd", {}, c.name),
      el("dt", {}, t("x.id")), el("dd", {}, c.id_number),
      el("dt", {}, t("x.vaccine")), el("dd", {}, c.product),
      el("dt", {}, t("x.manufacturer")), el("dd", {}, c.manufacturer),
      el("dt", {}, t("x.lot")), el("dd", {}, c.lot),
      el("dt", {}, t("x.dose")), el("dd", {}, `${c.dose_number} / ${c.doses_in_series}`),
      el("dt", {}, t("x.date")), el("dd", {}, c.date),
      el("dt", {}, t("x.next")), el("dd", { id: "next-dose" }, next)));
}

async function scan(code) {
  const out = $("#result");
  try {
    const answer = await api(state.token, "POST", "/api/exit/scan", { code });
    const v = answer.visit;
    if (answer.may_leave) {
      out.replaceChildren(
        el("div", { class: "exit-result ok", id: "verdict", dataset: { verdict: "leave" } }, t("x.leave", { ticket: v.ticket })),
        answer.certificate ? certificate(answer.certificate) : null,
        el("div", { class: "row", style: "justify-content:center" },
          answer.print === "queued" ? el("span", { class: "chip live", id: "print-chip", dataset: { ticket: v.ticket } }, t("x.printing")) : null,
          el("button", { onclick: () => window.print() }, t("x.print"))));
    } else if (answer.reason === "adverse_open") {
      out.replaceChildren(el("div", { class: "exit-result bad", id: "verdict", dataset: { verdict: "held" } }, t("x.held", { ticket: v.ticket })));
    } else {
      const minutes = Math.ceil(answer.remaining_seconds / 60);
      out.replaceChildren(el("div", { class: "exit-result wait", id: "verdict", dataset: { verdict: "wait", minutes } },
        t("x.wait", { ticket: v.ticket, n: minutes })));
    }
  } catch (err) {
    if (err.status === 401 && !isStaffError(err)) { store.clear(); boot(); return; }
    out.replaceChildren(el("div", { class: "exit-result bad", id: "verdict", dataset: { verdict: "error" } }, err.words));
  }
}

function renderReprints() {
  const box = $("#reprints");
  if (!box) return;
  if (!state.printer && !state.reprints.length) { box.replaceChildren(); return; }
  const chip = $("#print-chip");
  if (chip && state.reprints.some((r) => r.ticket === chip.dataset.ticket)) {
    chip.textContent = t("x.notprinted");
    chip.className = "chip offline";
  }
  box.replaceChildren(el("div", {},
    el("h2", {}, t("x.reprints", { n: state.reprints.length })),
    state.note ? el("div", { class: `banner ${state.note.kind}`, id: "reprint-note" }, state.note.text) : null,
    state.reprints.length
      ? el("table", {}, el("thead", {}, el("tr", {}, ...[t("x.ticket"), t("x.name"), t("x.vaccine"), t("x.why"), ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...state.reprints.map((r) => el("tr", { class: "reprint", dataset: { ticket: r.ticket } },
          el("td", {}, el("b", {}, r.ticket)), el("td", {}, r.name), el("td", {}, `${r.product} · ${r.lot}`),
          el("td", { style: "color: var(--bad)" }, FAULTS.has(r.reason) ? t(`f.${r.reason}`) : r.reason),
          el("td", {}, el("button", { class: "small", onclick: () => reprint(r) }, t("x.reprint")))))))
      : el("p", { class: "muted", id: "no-reprints" }, t("x.allprinted"))));
}

async function loadReprints() {
  try {
    const data = await api(state.token, "GET", "/api/exit/reprints");
    state.reprints = data.certificates;
    state.printer = data.printer_configured;
    renderReprints();
    return data.seq;
  } catch (err) {
    if (err.status === 401 && !isStaffError(err)) { store.clear(); boot(); }
    return null;
  }
}

async function reprint(r) {
  try {
    await api(state.token, "POST", `/api/exit/${r.visit_id}/reprint-certificate`, {}, { timeoutMs: 20000 });
    state.note = { kind: "ok", text: t("x.reprinted", { ticket: r.ticket }) };
  } catch (err) {
    state.note = { kind: "bad", text: `${r.ticket}: ${err.words}` };
  }
  await loadReprints();
}

async function start(token) {
  state.token = token;
  await new StaffGate({ role: "observer", token, title: t("x.staff") }).begin();
  const input = el("input", { id: "code", placeholder: t("x.scan"), autocomplete: "off", style: "font-size:1.6rem;flex:1" });
  $("#app").replaceChildren(
    el("header", { class: "bar" }, el("h1", {}, t("x.title")), el("span", { id: "feed", class: "chip" }, "…"), languagePicker(), el("a", { href: "/observer", class: "chip" }, t("x.observer"))),
    el("main", {},
      el("form", { class: "row", onsubmit: (e) => { e.preventDefault(); const code = input.value.trim(); input.value = ""; if (code) scan(code); input.focus(); } },
        input, el("button", { type: "submit", class: "primary" }, t("x.check"))),
      el("div", { id: "result", style: "margin-top:1rem" }),
      el("section", { id: "reprints", class: "card", style: "margin-top:1.5rem" })),
  );
  input.focus();
  const seq = await loadReprints();
  const feed = new Feed({ token, since: seq || 0, onEvent: (e) => { if (CERTIFICATE_EVENTS.has(e.kind)) soon(); },
    onStatus: (s) => { const c = $("#feed"); if (c) { c.textContent = statusText(s); c.className = `chip ${s}`; } } });
  feed.start();
  setInterval(loadReprints, 30000); // a print lost mid-way is listed after a minute, with no event
}

let pending = null;
function soon() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; loadReprints(); }, 300);
}

function boot() {
  if (store.token) { start(store.token); return; }
  signIn($("#app"), {
    title: t("x.signin"),
    store,
    verify: async (tok) => {
      await api(tok, "POST", "/api/exit/scan", {}).catch((err) => { if ((err.status === 401 || err.status === 403) && !isStaffError(err)) throw err; });
    },
    done: (tok) => start(tok),
  });
}

boot();
