// Exit point: scan the ticket → "you may leave" and the vaccination certificate (printed by the
// server when an exit printer is configured), or the minutes still to wait. Certificates the
// printer failed to print stay listed "to reprint" (live from the feed) until reprinted.
import { $, el, api, TokenStore, Feed, signIn, statusText, StaffGate, isStaffError } from "/web/common.js";

const store = new TokenStore("observer");
const state = { token: null, reprints: [], printer: false, note: null };
const CERTIFICATE_EVENTS = new Set(["certificate_queued", "certificate_printed", "certificate_print_failed"]);
const FAULTS = {
  offline: "离线 offline", paper_out: "缺纸 out of paper", cover_open: "纸仓盖打开 cover open",
  timeout: "无响应 not answering", lost: "打印中断 interrupted", error: "故障 fault",
};

function certificate(c) {
  const next = c.next_dose
    ? `${c.next_dose.earliest} — ${c.next_dose.latest || "…"}`
    : "已完成全程 Series complete";
  return el("div", { class: "certificate", id: "certificate" },
    el("div", { class: "muted", style: "text-align:center;color:#555" }, c.site_name),
    el("h2", {}, "预防接种凭证 Vaccination record"),
    el("dl", {},
      el("dt", {}, "姓名 Name"), el("dd", {}, c.name),
      el("dt", {}, "证件 ID"), el("dd", {}, c.id_number),
      el("dt", {}, "疫苗 Vaccine"), el("dd", {}, c.product),
      el("dt", {}, "生产企业 Manufacturer"), el("dd", {}, c.manufacturer),
      el("dt", {}, "批号 Lot"), el("dd", {}, c.lot),
      el("dt", {}, "剂次 Dose"), el("dd", {}, `${c.dose_number} / ${c.doses_in_series}`),
      el("dt", {}, "日期 Date"), el("dd", {}, c.date),
      el("dt", {}, "下一剂 Next dose"), el("dd", { id: "next-dose" }, next)));
}

async function scan(code) {
  const out = $("#result");
  try {
    const answer = await api(state.token, "POST", "/api/exit/scan", { code });
    const v = answer.visit;
    if (answer.may_leave) {
      out.replaceChildren(
        el("div", { class: "exit-result ok", id: "verdict", dataset: { verdict: "leave" } }, `${v.ticket} 可以离开，谢谢！ You may leave — thank you!`),
        answer.certificate ? certificate(answer.certificate) : null,
        el("div", { class: "row", style: "justify-content:center" },
          answer.print === "queued" ? el("span", { class: "chip live", id: "print-chip", dataset: { ticket: v.ticket } }, "凭证打印中 Certificate printing") : null,
          el("button", { onclick: () => window.print() }, "打印本页 Print this page")));
    } else if (answer.reason === "adverse_open") {
      out.replaceChildren(el("div", { class: "exit-result bad", id: "verdict", dataset: { verdict: "held" } }, `${v.ticket} 请勿离开，请联系医护人员 Please stay — see the medical staff`));
    } else {
      const minutes = Math.ceil(answer.remaining_seconds / 60);
      out.replaceChildren(el("div", { class: "exit-result wait", id: "verdict", dataset: { verdict: "wait", minutes } },
        `${v.ticket} 还需留观 ${minutes} 分钟`, el("br"), `Please wait ${minutes} more minute${minutes === 1 ? "" : "s"}`));
    }
  } catch (err) {
    if (err.status === 401 && !isStaffError(err)) { store.clear(); boot(); return; }
    out.replaceChildren(el("div", { class: "exit-result bad", id: "verdict", dataset: { verdict: "error" } }, `${err.message}`));
  }
}

function renderReprints() {
  const box = $("#reprints");
  if (!box) return;
  if (!state.printer && !state.reprints.length) { box.replaceChildren(); return; }
  const chip = $("#print-chip");
  if (chip && state.reprints.some((r) => r.ticket === chip.dataset.ticket)) {
    chip.textContent = "凭证未打印，已列入补打 Not printed — listed to reprint";
    chip.className = "chip offline";
  }
  box.replaceChildren(el("div", {},
    el("h2", {}, `待补打凭证 Certificates to reprint (${state.reprints.length})`),
    state.note ? el("div", { class: `banner ${state.note.kind}`, id: "reprint-note" }, state.note.text) : null,
    state.reprints.length
      ? el("table", {}, el("thead", {}, el("tr", {}, ...["票号 Ticket", "姓名 Name", "疫苗 Vaccine", "原因 Why", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...state.reprints.map((r) => el("tr", { class: "reprint", dataset: { ticket: r.ticket } },
          el("td", {}, el("b", {}, r.ticket)), el("td", {}, r.name), el("td", {}, `${r.product} · ${r.lot}`),
          el("td", { style: "color: var(--bad)" }, FAULTS[r.reason] || r.reason),
          el("td", {}, el("button", { class: "small", onclick: () => reprint(r) }, "补打 Reprint"))))))
      : el("p", { class: "muted", id: "no-reprints" }, "无 None — 全部已打印 all printed")));
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
    state.note = { kind: "ok", text: `${r.ticket} 凭证已补打 certificate reprinted` };
  } catch (err) {
    state.note = { kind: "bad", text: `${r.ticket}: ${err.message}` };
  }
  await loadReprints();
}

async function start(token) {
  state.token = token;
  await new StaffGate({ role: "observer", token, title: "出口 工作人员登录 Exit staff sign-in" }).begin();
  const input = el("input", { id: "code", placeholder: "扫描票据 Scan the ticket", autocomplete: "off", style: "font-size:1.6rem;flex:1" });
  $("#app").replaceChildren(
    el("header", { class: "bar" }, el("h1", {}, "出口 Exit"), el("span", { id: "feed", class: "chip" }, "…"), el("a", { href: "/observer", class: "chip" }, "留观 Observer")),
    el("main", {},
      el("form", { class: "row", onsubmit: (e) => { e.preventDefault(); const code = input.value.trim(); input.value = ""; if (code) scan(code); input.focus(); } },
        input, el("button", { type: "submit", class: "primary" }, "查询 Check")),
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
    title: "出口 Exit sign-in",
    store,
    verify: async (t) => {
      await api(t, "POST", "/api/exit/scan", {}).catch((err) => { if ((err.status === 401 || err.status === 403) && !isStaffError(err)) throw err; });
    },
    done: (t) => start(t),
  });
}

boot();
