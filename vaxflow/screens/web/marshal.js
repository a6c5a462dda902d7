// Marshal dashboard: queues and waits per lane, stations, observation seats, devices, alerts,
// controls (pause/resume stations, recall skipped people, walk-in capacity), today's report.
import { $, el, api, TokenStore, Feed, signIn, statusText, StaffGate, isStaffError, timeOfDay } from "/web/common.js";
import { barChart, gauge } from "/web/charts.js";

const store = new TokenStore("marshal");
const state = { token: null, data: null, message: null, pending: null };
const STATE_NAMES = { open: "开放 open", paused: "暂停 paused", closed: "关闭 closed" };

const fmt = (v) => (v === null || v === undefined ? "—" : String(v));

function kpi(label, value, key, cls = "") {
  return el("div", { class: `kpi ${cls}` }, el("div", { class: "v", dataset: { stat: key } }, fmt(value)), el("div", { class: "l" }, label));
}

async function act(path, body, done) {
  try {
    await api(state.token, "POST", path, body);
    state.message = { kind: "ok", text: done };
  } catch (err) {
    state.message = { kind: "bad", text: `${err.message} (${err.reason})` };
  }
  await load();
}

async function openReport() {
  const response = await fetch("/api/reports/daily", { headers: { Authorization: `Bearer ${state.token}` } });
  const url = URL.createObjectURL(await response.blob());
  window.open(url, "_blank");
}

function render() {
  const d = state.data;
  if (!d) return;
  const s = d.stats;
  const obs = d.observation;
  const obsClass = obs.warning ? (obs.warning.reason === "observation_full" ? "bad" : "warn") : "";
  const openStations = d.stations.filter((st) => st.state === "open");
  const storage = d.alerts.storage;
  const since = storage ? timeOfDay(Date.parse(storage.since)) : "";
  const storageBanner = !storage ? null : el("div", { class: "banner bad", id: "storage-alert" },
    storage.disk_full
      ? `数据库无法保存：磁盘已满，请立即清理服务器磁盘空间（${since} 起已拒绝 ${storage.refused} 次）— The database cannot save: its disk is full. Free space on the server now (${storage.refused} requests refused since ${since}).`
      : `数据库无法保存，请检查服务器（${since} 起已拒绝 ${storage.refused} 次）— The database cannot save; check the server (${storage.refused} requests refused since ${since}).`);
  const alerts = [
    ...d.alerts.adverse.map((a) => el("li", { class: `sev-${a.severity}` }, `⚠ ${a.ticket}: ${a.kind} (${a.severity}) — 不良反应 adverse reaction`)),
    ...d.alerts.devices.map((dev) => el("li", {}, `🖨 ${dev.device_id} ${dev.kind}: ${dev.state} ${dev.reason}`)),
    ...d.alerts.no_shows.slice(0, 5).map((n) => el("li", { class: "muted" }, `${n.ticket} 未到 no-show`)),
    ...(d.alerts.reprints || []).map((r) => el("li", { class: "reprint", dataset: { ticket: r.ticket } },
      `凭证 ${r.ticket} 待补打 certificate to reprint (${r.reason}) `,
      el("button", { class: "small", onclick: () => act(`/api/exit/${r.visit_id}/reprint-certificate`, {}, `${r.ticket} 凭证已补打 certificate reprinted`) }, "补打 Reprint"))),
    ...((d.alerts.uplink) || []).map((u) => el("li", { class: u.past_alert ? "sev-severe" : "" },
      `⇪ ${u.target}: 待上传 ${u.pending} pending` +
      (u.oldest_pending_minutes !== null ? `, 最久 oldest ${Math.round(u.oldest_pending_minutes)} min` : "") +
      (u.needs_fixing ? `, 需修正 ${u.needs_fixing} need fixing (vaxflow uplink status)` : ""))),
  ];
  const capacity = el("input", { type: "number", min: 0, value: d.walk_in.capacity, style: "width:7rem", name: "capacity" });
  $("#app").replaceChildren(
    el("header", { class: "bar" },
      el("h1", {}, `现场调度 Marshal — ${d.site_name}`),
      el("button", { class: "small", onclick: openReport }, "今日报告 Today's report"),
      el("span", { id: "feed", class: "chip" }, "…"),
      el("span", { class: "chip" }, timeOfDay(Date.parse(d.at)))),
    el("main", {},
      storageBanner,
      state.message ? el("div", { class: `banner ${state.message.kind}` }, state.message.text) : null,
      obs.warning ? el("div", { class: `banner ${obsClass === "bad" ? "bad" : "warn"}` }, `留观座位 Observation seats ${obs.observing}/${obs.seats}: ${obs.warning.reason === "observation_full" ? "已满 full" : "将满 nearly full"} — 叫号将提示 stations are warned on call-next`) : null,
      el("div", { class: "kpis" },
        kpi("等候 Waiting", s.waiting, "waiting"),
        kpi("已叫号 Called", s.called, "called"),
        kpi("接种中 In service", s.in_service, "in_service"),
        kpi(`留观 Observing / ${obs.seats}`, s.observing, "observing", obsClass),
        kpi("已离开 Released", s.released, "released"),
        kpi("已签到 Checked in", s.checked_in, "checked_in"),
        kpi("开放接种台 Stations open", s.stations_open, "stations_open"),
        kpi("不良反应 Open reactions", d.alerts.adverse.length, "adverse", d.alerts.adverse.length ? "bad" : "")),
      el("div", { class: "grid2" },
        el("section", { class: "card" }, el("h2", {}, "通道 Lanes — 等候时间 waits (min)"),
          el("table", {}, el("thead", {}, el("tr", {}, ...["通道 Lane", "等候 Waiting", "p50", "p90", "最久 Oldest", "预计 Est."].map((h) => el("th", {}, h)))),
            el("tbody", {}, ...d.lanes.map((l) => el("tr", { dataset: { lane: l.prefix } },
              el("td", {}, `${l.prefix} ${l.name}`), el("td", { dataset: { laneWaiting: l.prefix } }, l.waiting),
              el("td", {}, fmt(l.wait_p50_minutes)), el("td", {}, fmt(l.wait_p90_minutes)),
              el("td", {}, fmt(l.oldest_wait_minutes)), el("td", {}, l.estimated_wait_minutes))))),
          barChart(d.lanes.map((l) => l.wait_p50_minutes || 0), d.lanes.map((l) => l.prefix), { second: d.lanes.map((l) => l.wait_p90_minutes || 0), height: 140, title: "p50/p90" }),
          el("p", { class: "muted" }, "蓝 p50 · 黄 p90 (last hour)")),
        el("section", { class: "card" }, el("h2", {}, `留观座位 Observation seats ${obs.observing}/${obs.seats}`),
          gauge(obs.observing, obs.seats),
          el("h2", { style: "margin-top:1rem" }, "每小时接种 Doses per hour"),
          barChart(d.doses_by_hour, d.doses_by_hour.map((_, h) => String(h)), { height: 150, title: "doses per hour" }))),
      el("section", { class: "card", style: "margin-top:1rem" }, el("h2", {}, "接种台 Stations — 每小时 doses in the last hour"),
        barChart(d.stations.map((st) => st.doses_last_hour), d.stations.map((st) => st.station_id), { width: 1200, height: 120, title: "doses per station, last hour" }),
        el("div", { class: "stations" }, ...d.stations.map((st) => el("div", { class: `station ${st.state}`, dataset: { station: st.station_id } },
          el("b", {}, st.name), ` · ${st.zone}`, el("br"),
          STATE_NAMES[st.state] || st.state, st.product ? ` · ${st.product} ${st.lot}` : "", el("br"),
          `${st.doses_last_hour}/h · ${st.doses_today} today`, st.vaccinator ? ` · ${st.vaccinator}` : "", el("br"),
          el("div", { class: "row", style: "margin-top:.3rem" },
            st.state === "open" ? el("button", { class: "small", onclick: () => act(`/api/stations/${st.station_id}/pause`, {}, `${st.name} paused`) }, "暂停 Pause") : null,
            st.state === "paused" ? el("button", { class: "small", onclick: () => act(`/api/stations/${st.station_id}/resume`, {}, `${st.name} resumed`) }, "恢复 Resume") : null,
            st.state !== "closed" && !st.visit_id ? el("button", { class: "small", onclick: () => act(`/api/stations/${st.station_id}/close`, {}, `${st.name} closed`) }, "关闭 Close") : null,
            st.visit_id ? el("button", { class: "small", onclick: () => act(`/api/stations/${st.station_id}/recall`, {}, `${st.name}: call repeated`) }, "重呼 Recall") : null))))),
      el("div", { class: "grid2", style: "margin-top:1rem" },
        el("section", { class: "card" }, el("h2", {}, "提醒 Alerts"),
          el("ul", { class: "alerts" }, ...(alerts.length ? alerts : [el("li", { class: "muted" }, "无 None")]))),
        el("section", { class: "card" }, el("h2", {}, "过号 Skipped — 重新叫号 recall"),
          d.skipped.length ? el("table", {}, el("tbody", {}, ...d.skipped.slice(0, 10).map((sk) => {
            const pick = el("select", {}, ...openStations.map((st) => el("option", { value: st.station_id }, st.name)));
            return el("tr", {}, el("td", {}, sk.ticket), el("td", {}, pick),
              el("td", {}, el("button", { class: "small", disabled: !openStations.length, onclick: () => act(`/api/stations/${pick.value}/recall`, { visit_id: sk.visit_id }, `${sk.ticket} recalled`) }, "重新叫号 Recall")));
          }))) : el("p", { class: "muted" }, "无 None"),
          el("h2", { style: "margin-top:1rem" }, "现场登记 Walk-ins"),
          el("form", { class: "row", onsubmit: (e) => { e.preventDefault(); act("/api/walk-in-capacity", { capacity: Number(capacity.value) }, `walk-in capacity ${capacity.value}`); } },
            el("span", { dataset: { stat: "walk_in_issued" } }, `已发 issued ${d.walk_in.issued} /`),
            el("label", {}, "今日容量 Capacity today", capacity), el("button", { type: "submit" }, "设置 Set")))),
      el("section", { class: "card", style: "margin-top:1rem" }, el("h2", {}, "设备 Devices"),
        el("table", {}, el("thead", {}, el("tr", {}, ...["设备 Device", "类型 Kind", "状态 State", "原因 Reason", "时间 At"].map((h) => el("th", {}, h)))),
          el("tbody", {}, ...d.devices.map((dev) => el("tr", { style: dev.state === "ok" ? "" : "color: var(--bad)" },
            el("td", {}, dev.device_id), el("td", {}, dev.kind), el("td", {}, dev.state), el("td", {}, dev.reason), el("td", {}, timeOfDay(Date.parse(dev.reported_at)))))))),
    ),
  );
  $("#feed").textContent = statusText(state.feedStatus || "connecting");
  $("#feed").className = `chip ${state.feedStatus || ""}`;
}

async function load() {
  try {
    state.data = await api(state.token, "GET", "/api/dashboard");
  } catch (err) {
    if ((err.status === 401 || err.status === 403) && !isStaffError(err)) { store.clear(); boot(); return; }
    state.message = { kind: "bad", text: err.message };
  }
  const active = document.activeElement;
  if (active && (active.tagName === "INPUT" || active.tagName === "SELECT")) return; // do not steal the field
  render();
}

/** Reload soon after events (at most once a second), and every 10 s regardless. */
function soon() {
  if (state.pending) return;
  state.pending = setTimeout(() => { state.pending = null; load(); }, 1000);
}

async function start(token) {
  state.token = token;
  await new StaffGate({ role: "marshal", token, title: "现场调度 工作人员登录 Marshal staff sign-in" }).begin();
  await load();
  const feed = new Feed({ token, since: state.data ? state.data.seq : 0, onEvent: soon,
    onStatus: (s) => { state.feedStatus = s; const c = $("#feed"); if (c) { c.textContent = statusText(s); c.className = `chip ${s}`; } } });
  feed.start();
  setInterval(load, 10000);
}

function boot() {
  if (store.token) { start(store.token); return; }
  signIn($("#app"), { title: "现场调度 Marshal sign-in", store, verify: (t) => api(t, "GET", "/api/dashboard"), done: (t) => start(t) });
}

window.vaxflowMarshal = state;
boot();
