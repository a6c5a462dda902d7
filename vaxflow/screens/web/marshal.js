// Marshal dashboard: queues and waits per lane (minutes, coloured against the site's target),
// stations, observation seats, devices, alerts (time, station, masked person), controls
// (pause/resume stations, recall skipped people, walk-in capacity), today's report.
import { $, el, api, t, nameOf, addWords, TokenStore, Feed, signIn, statusText, StaffGate, isStaffError, timeOfDay, languagePicker } from "/web/common.js";
import { barChart, gauge } from "/web/charts.js";

addWords({
  "m.title": ["现场调度", "現場調度", "Marshal"],
  "m.signin": ["现场调度登录", "現場調度登入", "Marshal sign-in"],
  "m.staff": ["现场调度 工作人员登录", "現場調度 工作人員登入", "Marshal staff sign-in"],
  "m.report": ["今日报告", "今日報告", "Today's report"],
  "m.waiting": ["等候", "等候", "Waiting"],
  "m.called": ["已叫号", "已叫號", "Called"],
  "m.inservice": ["接种中", "接種中", "In service"],
  "m.observing": ["留观 / {seats}", "留觀 / {seats}", "Observing / {seats}"],
  "m.released": ["已离开", "已離開", "Released"],
  "m.checkedin": ["已签到", "已報到", "Checked in"],
  "m.open": ["开放接种台", "開放接種台", "Stations open"],
  "m.reactions": ["不良反应", "不良反應", "Open reactions"],
  "m.lanes": ["通道等候时间（目标 {target} 分钟内）", "通道等候時間（目標 {target} 分鐘內）", "Lanes: waits (target under {target} min)"],
  "m.lane": ["通道", "通道", "Lane"],
  "m.p50": ["中位等候", "中位等候", "Median wait"],
  "m.p90": ["九成等候", "九成等候", "p90 wait"],
  "m.oldest": ["最久", "最久", "Longest"],
  "m.estimate": ["预计", "預計", "Estimate"],
  "m.min": ["{n} 分钟", "{n} 分鐘", "{n} min"],
  "m.chartnote": ["蓝：中位 · 黄：九成（近一小时，分钟）", "藍：中位 · 黃：九成（近一小時，分鐘）", "blue: median · yellow: p90 (last hour, minutes)"],
  "m.seats": ["留观座位 {n}/{seats}", "留觀座位 {n}/{seats}", "Observation seats {n}/{seats}"],
  "m.full": ["已满", "已滿", "full"],
  "m.nearly": ["将满", "將滿", "nearly full"],
  "m.seatwarn": ["留观座位 {n}/{seats}：{level}，叫号时会提示接种台", "留觀座位 {n}/{seats}：{level}，叫號時會提示接種台", "Observation seats {n}/{seats}: {level}; stations are warned on call-next"],
  "m.perhour": ["每小时接种", "每小時接種", "Doses per hour"],
  "m.stations": ["接种台：近一小时接种数", "接種台：近一小時接種數", "Stations: doses in the last hour"],
  "m.st.open": ["开放", "開放", "open"],
  "m.st.paused": ["暂停", "暫停", "paused"],
  "m.st.closed": ["关闭", "關閉", "closed"],
  "m.rate": ["每小时 {h} · 今日 {d}", "每小時 {h} · 今日 {d}", "{h}/h · {d} today"],
  "m.pause": ["暂停", "暫停", "Pause"],
  "m.resume": ["恢复", "恢復", "Resume"],
  "m.close": ["关闭", "關閉", "Close"],
  "m.recall": ["重呼", "重呼", "Recall"],
  "m.alerts": ["提醒", "提醒", "Alerts"],
  "m.none": ["暂无", "暫無", "None"],
  "m.adverse": ["不良反应 {kind}（{severity}）· {name} · 接种台 {station}", "不良反應 {kind}（{severity}）· {name} · 接種台 {station}", "Adverse reaction: {kind} ({severity}) · {name} · station {station}"],
  "m.noshow": ["未到", "未到", "no-show"],
  "m.reprint": ["凭证待补打（{reason}）", "憑證待補印（{reason}）", "certificate to reprint ({reason})"],
  "m.reprintbtn": ["补打", "補印", "Reprint"],
  "m.reprinted": ["{ticket} 凭证已补打", "{ticket} 憑證已補印", "{ticket} certificate reprinted"],
  "m.skipped": ["过号：重新叫号", "過號：重新叫號", "Skipped: recall"],
  "m.recallto": ["重新叫号", "重新叫號", "Recall"],
  "m.recalled": ["{ticket} 已重新叫号", "{ticket} 已重新叫號", "{ticket} recalled"],
  "m.walkins": ["现场登记", "現場登記", "Walk-ins"],
  "m.issued": ["已发 {n} /", "已發 {n} /", "issued {n} /"],
  "m.capacity": ["今日容量", "今日容量", "Capacity today"],
  "m.set": ["设置", "設定", "Set"],
  "m.capset": ["现场登记容量 {n}", "現場登記容量 {n}", "walk-in capacity {n}"],
  "m.devices": ["设备", "設備", "Devices"],
  "m.nodevices": ["尚无设备报告状态", "尚無設備回報狀態", "No device has reported yet"],
  "m.device": ["设备", "設備", "Device"],
  "m.kind": ["类型", "類型", "Kind"],
  "m.state": ["状态", "狀態", "State"],
  "m.reason": ["原因", "原因", "Reason"],
  "m.at": ["时间", "時間", "At"],
  "m.done.paused": ["{name} 已暂停", "{name} 已暫停", "{name} paused"],
  "m.done.resumed": ["{name} 已恢复", "{name} 已恢復", "{name} resumed"],
  "m.done.closed": ["{name} 已关闭", "{name} 已關閉", "{name} closed"],
  "m.done.recalled": ["{name}：已重呼", "{name}：已重呼", "{name}: call repeated"],
  "m.disk": ["数据库无法保存：磁盘已满，请立即清理服务器磁盘空间（{since} 起已拒绝 {n} 次）", "資料庫無法儲存：磁碟已滿，請立即清理伺服器磁碟空間（{since} 起已拒絕 {n} 次）", "The database cannot save: its disk is full. Free space on the server now ({n} requests refused since {since})."],
  "m.storage": ["数据库无法保存，请检查服务器（{since} 起已拒绝 {n} 次）", "資料庫無法儲存，請檢查伺服器（{since} 起已拒絕 {n} 次）", "The database cannot save; check the server ({n} requests refused since {since})."],
  "m.walbacklog": ["数据库日志已满，长时间读取未结束，暂停保存（{since} 起已拒绝 {n} 次）", "資料庫日誌已滿，長時間讀取未結束，暫停儲存（{since} 起已拒絕 {n} 次）", "The database log is at its ceiling while long reads run; saving paused ({n} requests refused since {since})."],
  "m.clock": ["服务器时钟发生跳变（{steps}）：留观计时按实际经过时间，不受影响；请检查服务器时间同步", "伺服器時鐘發生跳變（{steps}）：留觀計時按實際經過時間，不受影響；請檢查伺服器時間同步", "The server's wall clock stepped ({steps}): observation keeps counting real time served, nobody's countdown moved; check the server's time sync."],
  "m.clockstep": ["时钟跳变 {steps}", "時鐘跳變 {steps}", "clock step {steps}"],
  "m.closeday": ["结束当日", "結束當日", "Close the day"],
  "m.closeask": ["结束当日？之后不再签到，直到下一日开启；已签到的人员继续叫号、接种和留观。", "結束當日？之後不再報到，直到下一日開啟；已報到的人員繼續叫號、接種和留觀。", "Close the site day? No check-ins until the next day opens; people already checked in are still called, vaccinated and observed."],
  "m.closed": ["当日已结束签到", "當日已結束報到", "The site day is closed to check-ins"],
  "m.day": ["接种日 {day} · {turn} 换日", "接種日 {day} · {turn} 換日", "Site day {day} · turns at {turn}"],
  "m.daychip": ["已结束签到", "已結束報到", "closed"],
  "m.carried": ["{n} 人来自前一接种日（换日时仍未完成）：等候的人员优先叫号，号票按其日期扫描。", "{n} 人來自前一接種日（換日時仍未完成）：等候的人員優先叫號，號票按其日期掃描。", "{n} people of the day before are still here (unfinished at the day's turn): those waiting are called first; scan their tickets, which say their day."],
  "m.dayclosed": ["接种日 {day} 已结束签到：不再接受新的签到，已签到的人员继续完成。下一日于 {turn} 自动开启，或在所有人完成后点击“开启下一日”。", "接種日 {day} 已結束報到：不再接受新的報到，已報到的人員繼續完成。下一日於 {turn} 自動開啟，或在所有人完成後點選「開啟下一日」。", "Site day {day} is closed: no new check-ins; people already checked in still finish. The next day opens at {turn}, or with \"Open the next day\" once everyone has finished."],
  "m.openday": ["开启下一日", "開啟下一日", "Open the next day"],
  "m.openask": ["现在开启下一日？新的签到将属于下一日。", "現在開啟下一日？新的報到將屬於下一日。", "Open the next site day now? New check-ins will belong to it."],
  "m.opened": ["下一日已开启", "下一日已開啟", "The next site day is open"],
  "m.wal": ["日志 {used}/{ceiling} MiB", "日誌 {used}/{ceiling} MiB", "WAL {used}/{ceiling} MiB"],
  "m.uppending": ["待上传 {n}", "待上傳 {n}", "{n} pending"],
  "m.upoldest": ["最久 {n} 分钟", "最久 {n} 分鐘", "oldest {n} min"],
  "m.region": ["区域", "區域", "Region"],
  "m.regionok": ["区域 ✓ 待传 {backlog} · {ago} 前已上传", "區域 ✓ 待傳 {backlog} · {ago} 前已上傳", "Region ✓ {backlog} waiting · sent {ago} ago"],
  "m.regionnew": ["区域 ✓ 待传 {backlog}", "區域 ✓ 待傳 {backlog}", "Region ✓ {backlog} waiting"],
  "m.regionbad": ["区域 ✗ 待传 {backlog}", "區域 ✗ 待傳 {backlog}", "Region ✗ {backlog} waiting"],
  "m.regiondown": ["区域服务器已 {for} 无法连接：本站签到照常，{backlog} 条事件保存在本站，恢复后自动补传。（{error}）", "區域伺服器已 {for} 無法連線：本站報到照常，{backlog} 筆事件保存在本站，恢復後自動補傳。（{error}）", "The region has been unreachable for {for}: check-in goes on here; {backlog} events wait on this site and are sent when it answers. ({error})"],
  "m.sec": ["{n} 秒", "{n} 秒", "{n} s"],
  "m.upfix": ["需修正 {n}（vaxflow uplink status）", "需修正 {n}（vaxflow uplink status）", "{n} need fixing (vaxflow uplink status)"],
});

const store = new TokenStore("marshal");
const state = { token: null, data: null, message: null, pending: null };

/** After this long unreachable the region gets a banner (a Patroni failover takes ~10 s). */
const REGION_BANNER_SECONDS = 60;

/** A span of seconds in the page's words: "45 s" or "12 min". */
const span = (seconds) => (seconds < 120 ? t("m.sec", { n: Math.round(seconds) }) : t("m.min", { n: Math.round(seconds / 60) }));

/** The region shipper's state as a header chip: backlog, last send, the error on hover. */
function regionChip(r) {
  if (!r) return null;
  const backlog = fmt(r.backlog);
  const failing = r.last_error !== null && r.last_error !== undefined;
  const text = failing ? t("m.regionbad", { backlog })
    : r.last_sent_seconds === null || r.last_sent_seconds === undefined ? t("m.regionnew", { backlog })
      : t("m.regionok", { backlog, ago: span(r.last_sent_seconds) });
  return el("span", { class: `chip ${failing ? "bad" : ""}`, id: "region", title: failing ? r.last_error : t("m.region"), dataset: { backlog } }, text);
}

/** A banner once the region has been unreachable for REGION_BANNER_SECONDS. */
function regionBanner(r) {
  if (!r || r.failing_seconds === null || r.failing_seconds === undefined || r.failing_seconds < REGION_BANNER_SECONDS) return null;
  return el("div", { class: "banner warn", id: "region-alert" },
    t("m.regiondown", { for: span(r.failing_seconds), backlog: fmt(r.backlog), error: r.last_error || "" }));
}

/** The open site day (issue 18): its date and turn; closed to check-ins, marked. */
function dayChip(day) {
  if (!day) return null;
  return el("span", { class: `chip ${day.closed ? "bad" : ""}`, id: "site-day", dataset: { day: day.day, closed: String(day.closed) } },
    t("m.day", { day: day.day, turn: day.turns_at }), day.closed ? ` · ${t("m.daychip")}` : "");
}

const mib = (bytes) => (bytes / 1048576).toFixed(1);
const fmt = (v) => (v === null || v === undefined ? "—" : String(v));

/** A wait in minutes with its unit, coloured against the site's target (amber from 75 %). */
function wait(minutes, target, attrs = {}) {
  if (minutes === null || minutes === undefined) return el("td", attrs, "—");
  const level = minutes > target ? "over" : minutes > 0.75 * target ? "near" : "";
  return el("td", { ...attrs, class: `wait ${level}` }, t("m.min", { n: Math.round(minutes) }));
}

function kpi(label, value, key, cls = "") {
  return el("div", { class: `kpi ${cls}` }, el("div", { class: "v", dataset: { stat: key } }, fmt(value)), el("div", { class: "l" }, label));
}

async function act(path, body, done) {
  try {
    await api(state.token, "POST", path, body);
    state.message = { kind: "ok", text: done };
  } catch (err) {
    state.message = { kind: "bad", text: err.words };
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
  const target = d.target_wait_minutes || 30;
  const obsClass = obs.warning ? (obs.warning.reason === "observation_full" ? "bad" : "warn") : "";
  const openStations = d.stations.filter((st) => st.state === "open");
  const storage = d.alerts.storage;
  const since = storage ? timeOfDay(Date.parse(storage.since)) : "";
  const storageBanner = !storage ? null : el("div", { class: "banner bad", id: "storage-alert" },
    t(storage.wal_backlog ? "m.walbacklog" : storage.disk_full ? "m.disk" : "m.storage", { since, n: storage.refused }));
  const clockAlert = d.alerts.clock;
  const clockSteps = clockAlert ? clockAlert.steps.map((st) => `${st.seconds > 0 ? "+" : ""}${Math.round(st.seconds)} s @ ${timeOfDay(Date.parse(st.at))}`).join(", ") : "";
  const clockBanner = !clockAlert ? null : el("div", { class: "banner warn", id: "clock-alert" }, t("m.clock", { steps: clockSteps }));
  const at = (iso) => el("span", { class: "at" }, iso ? timeOfDay(Date.parse(iso)) : "");
  const alerts = [
    ...(clockAlert ? [el("li", { class: "clock" }, `⏱ ${t("m.clockstep", { steps: clockSteps })}`)] : []),
    ...d.alerts.adverse.map((a) => el("li", { class: `sev-${a.severity}`, dataset: { ticket: a.ticket } }, at(a.flagged_at), ` ⚠ ${a.ticket} `,
      t("m.adverse", { kind: t(`kind.${a.kind}`) === `kind.${a.kind}` ? a.kind : t(`kind.${a.kind}`), severity: t(`sev.${a.severity}`), name: a.name || "", station: a.station_id || "—" }))),
    ...d.alerts.devices.map((dev) => el("li", {}, at(dev.reported_at), ` 🖨 ${dev.device_id} ${dev.kind}: ${dev.state} ${dev.reason || ""}`)),
    ...d.alerts.no_shows.slice(0, 5).map((n) => el("li", { class: "muted" }, at(n.finished_at), ` ${n.ticket} ${t("m.noshow")}`)),
    ...(d.alerts.reprints || []).map((r) => el("li", { class: "reprint", dataset: { ticket: r.ticket } },
      `${r.ticket} ${t("m.reprint", { reason: r.reason })} `,
      el("button", { class: "small", onclick: () => act(`/api/exit/${r.visit_id}/reprint-certificate`, {}, t("m.reprinted", { ticket: r.ticket })) }, t("m.reprintbtn")))),
    ...((d.alerts.uplink) || []).map((u) => el("li", { class: u.past_alert ? "sev-severe" : "" },
      `⇪ ${u.target}: ${t("m.uppending", { n: u.pending })}` +
      (u.oldest_pending_minutes !== null ? `, ${t("m.upoldest", { n: Math.round(u.oldest_pending_minutes) })}` : "") +
      (u.needs_fixing ? `, ${t("m.upfix", { n: u.needs_fixing })}` : ""))),
  ];
  const day = d.site_day;
  const capacity = el("input", { type: "number", min: 0, value: d.walk_in.capacity, style: "width:7rem", name: "capacity" });
  const none = (text = t("m.none")) => el("p", { class: "muted empty" }, text);
  $("#app").replaceChildren(
    el("header", { class: "bar" },
      el("h1", {}, `${t("m.title")} — ${d.site_name}`),
      el("button", { class: "small", onclick: openReport }, t("m.report")),
      dayChip(d.site_day),
      day && day.closed
        ? el("button", { class: "small", id: "open-day", onclick: () => { if (confirm(t("m.openask"))) act("/api/site-day/open", {}, t("m.opened")); } }, t("m.openday"))
        : el("button", { class: "small", id: "close-day", onclick: () => { if (confirm(t("m.closeask"))) act("/api/site-day/close", {}, t("m.closed")); } }, t("m.closeday")),
      languagePicker(),
      el("span", { id: "feed", class: "chip" }, "…"),
      regionChip(d.region),
      d.wal ? el("span", { class: "chip", id: "wal", title: "SQLite WAL / ceiling" }, t("m.wal", { used: mib(d.wal.bytes), ceiling: mib(d.wal.ceiling) })) : null,
      el("span", { class: "chip" }, timeOfDay(Date.parse(d.at)))),
    el("main", { class: "marshal" },
      storageBanner,
      clockBanner,
      day && day.closed ? el("div", { class: "banner warn", id: "day-closed" }, t("m.dayclosed", { day: day.day, turn: day.turns_at })) : null,
      s.carried_over ? el("div", { class: "banner warn", id: "carried-over" }, t("m.carried", { n: s.carried_over })) : null,
      regionBanner(d.region),
      state.message ? el("div", { class: `banner ${state.message.kind}` }, state.message.text) : null,
      obs.warning ? el("div", { class: `banner ${obsClass === "bad" ? "bad" : "warn"}` },
        t("m.seatwarn", { n: obs.observing, seats: obs.seats, level: t(obs.warning.reason === "observation_full" ? "m.full" : "m.nearly") })) : null,
      el("div", { class: "kpis" },
        kpi(t("m.waiting"), s.waiting, "waiting"),
        kpi(t("m.called"), s.called, "called"),
        kpi(t("m.inservice"), s.in_service, "in_service"),
        kpi(t("m.observing", { seats: obs.seats }), s.observing, "observing", obsClass),
        kpi(t("m.released"), s.released, "released"),
        kpi(t("m.checkedin"), s.checked_in, "checked_in"),
        kpi(t("m.open"), s.stations_open, "stations_open"),
        kpi(t("m.reactions"), d.alerts.adverse.length, "adverse", d.alerts.adverse.length ? "bad" : "")),
      el("div", { class: "grid2" },
        el("section", { class: "card" }, el("h2", {}, t("m.lanes", { target: Math.round(target) })),
          el("table", {}, el("thead", {}, el("tr", {}, ...[t("m.lane"), t("m.waiting"), t("m.p50"), t("m.p90"), t("m.oldest"), t("m.estimate")].map((h) => el("th", {}, h)))),
            el("tbody", {}, ...d.lanes.map((l) => el("tr", { dataset: { lane: l.prefix } },
              el("td", {}, `${l.prefix} ${nameOf(l.names, l.name)}`), el("td", { dataset: { laneWaiting: l.prefix } }, l.waiting),
              wait(l.wait_p50_minutes, target), wait(l.wait_p90_minutes, target, { dataset: { p90: l.prefix } }),
              wait(l.oldest_wait_minutes, target), wait(l.estimated_wait_minutes, target, { dataset: { estimate: l.prefix } }))))),
          barChart(d.lanes.map((l) => l.wait_p50_minutes || 0), d.lanes.map((l) => l.prefix), { second: d.lanes.map((l) => l.wait_p90_minutes || 0), height: 140, title: "p50/p90" }),
          el("p", { class: "muted" }, t("m.chartnote"))),
        el("section", { class: "card" }, el("h2", {}, t("m.seats", { n: obs.observing, seats: obs.seats })),
          gauge(obs.observing, obs.seats),
          el("h2", { style: "margin-top:1rem" }, t("m.perhour")),
          barChart(d.doses_by_hour, d.doses_by_hour.map((_, h) => String(h)), { height: 150, title: t("m.perhour") }))),
      el("section", { class: "card", style: "margin-top:1rem" }, el("h2", {}, t("m.stations")),
        barChart(d.stations.map((st) => st.doses_last_hour), d.stations.map((st) => st.station_id), { width: 1200, height: 120, title: t("m.stations") }),
        el("div", { class: "stations" }, ...d.stations.map((st) => el("div", { class: `station ${st.state}`, dataset: { station: st.station_id } },
          el("b", {}, nameOf(st.names, st.name)), ` · ${nameOf(st.zone_names, st.zone)}`, el("br"),
          el("span", { class: "nowrap" }, t(`m.st.${st.state}`)),
          st.product ? el("div", { class: "lot" }, el("span", {}, st.product), " ", el("span", {}, st.lot)) : el("br"),
          t("m.rate", { h: st.doses_last_hour, d: st.doses_today }), st.vaccinator ? ` · ${st.vaccinator}` : "", el("br"),
          el("div", { class: "row", style: "margin-top:.3rem" },
            st.state === "open" ? el("button", { class: "small", onclick: () => act(`/api/stations/${st.station_id}/pause`, {}, t("m.done.paused", { name: nameOf(st.names, st.name) })) }, t("m.pause")) : null,
            st.state === "paused" ? el("button", { class: "small", onclick: () => act(`/api/stations/${st.station_id}/resume`, {}, t("m.done.resumed", { name: nameOf(st.names, st.name) })) }, t("m.resume")) : null,
            st.state !== "closed" && !st.visit_id ? el("button", { class: "small", onclick: () => act(`/api/stations/${st.station_id}/close`, {}, t("m.done.closed", { name: nameOf(st.names, st.name) })) }, t("m.close")) : null,
            st.visit_id ? el("button", { class: "small", onclick: () => act(`/api/stations/${st.station_id}/recall`, {}, t("m.done.recalled", { name: nameOf(st.names, st.name) })) }, t("m.recall")) : null))))),
      el("div", { class: "grid2", style: "margin-top:1rem" },
        el("section", { class: "card" }, el("h2", {}, t("m.alerts")),
          alerts.length ? el("ul", { class: "alerts" }, ...alerts) : none()),
        el("section", { class: "card" }, el("h2", {}, t("m.skipped")),
          d.skipped.length ? el("table", {}, el("tbody", {}, ...d.skipped.slice(0, 10).map((sk) => {
            const pick = el("select", {}, ...openStations.map((st) => el("option", { value: st.station_id }, nameOf(st.names, st.name))));
            return el("tr", {}, el("td", {}, sk.ticket), el("td", {}, pick),
              el("td", {}, el("button", { class: "small", disabled: !openStations.length, onclick: () => act(`/api/stations/${pick.value}/recall`, { visit_id: sk.visit_id }, t("m.recalled", { ticket: sk.ticket })) }, t("m.recallto"))));
          }))) : none(),
          el("h2", { style: "margin-top:1rem" }, t("m.walkins")),
          el("form", { class: "row", onsubmit: (e) => { e.preventDefault(); act("/api/walk-in-capacity", { capacity: Number(capacity.value) }, t("m.capset", { n: capacity.value })); } },
            el("span", { dataset: { stat: "walk_in_issued" } }, t("m.issued", { n: d.walk_in.issued })),
            el("label", {}, t("m.capacity"), capacity), el("button", { type: "submit" }, t("m.set"))))),
      el("section", { class: "card", style: "margin-top:1rem" }, el("h2", {}, t("m.devices")),
        d.devices.length ? el("table", {}, el("thead", {}, el("tr", {}, ...[t("m.device"), t("m.kind"), t("m.state"), t("m.reason"), t("m.at")].map((h) => el("th", {}, h)))),
          el("tbody", {}, ...d.devices.map((dev) => el("tr", { style: dev.state === "ok" ? "" : "color: var(--bad)" },
            el("td", {}, dev.device_id), el("td", {}, dev.kind), el("td", {}, dev.state), el("td", {}, dev.reason), el("td", {}, timeOfDay(Date.parse(dev.reported_at)))))))
          : none(t("m.nodevices"))),
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
    state.message = { kind: "bad", text: err.words };
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
  await new StaffGate({ role: "marshal", token, title: t("m.staff") }).begin();
  await load();
  const feed = new Feed({ token, since: state.data ? state.data.seq : 0, onEvent: soon,
    onStatus: (s) => { state.feedStatus = s; const c = $("#feed"); if (c) { c.textContent = statusText(s); c.className = `chip ${s}`; } } });
  feed.start();
  setInterval(load, 10000);
}

function boot() {
  if (store.token) { start(store.token); return; }
  signIn($("#app"), { title: t("m.signin"), store, verify: (tok) => api(tok, "GET", "/api/dashboard"), done: (tok) => start(tok) });
}

window.vaxflowMarshal = state;
boot();
