// Staff desk: check in a child without an ID card of their own, with the citizen ID number
// printed in the household register (户口本) typed or scanned by staff, and the guardian who
// consents for them (a passport's birth date typed as seen). Booked (booking code) or walk-in.
// Always a signed-in person: POST /api/desk/checkins records who typed the number.
import { $, el, api, TokenStore, signIn, StaffGate, isStaffError } from "/web/common.js";

const store = new TokenStore("desk");
const state = { token: null, gate: null, precheck: null, body: null };
const RELATIONS = [
  ["parent", "父母 Parent"], ["legal_guardian", "法定监护人 Legal guardian"],
  ["grandparent", "祖父母/外祖父母 Grandparent"], ["adult_sibling", "成年兄弟姐妹 Adult sibling"],
  ["other_relative", "其他亲属 Other relative"],
];
const ID_TYPES = [
  ["cn_resident", "居民身份证 Resident ID"], ["passport", "护照 Passport"],
  ["hk_macau_permit", "港澳通行证 HK/Macau permit"], ["taiwan_permit", "台胞证 Taiwan permit"],
];

const field = (label, input) => el("label", {}, label, input);
const options = (pairs) => pairs.map(([value, text]) => el("option", { value }, text));

function form() {
  const f = {
    booking: el("input", { name: "booking_code", autocomplete: "off", placeholder: "无预约请留空 Empty for a walk-in" }),
    childId: el("input", { name: "child_id", autocomplete: "off", required: true, maxlength: 18, placeholder: "户口簿上的公民身份号码 From the household register" }),
    childName: el("input", { name: "child_name", autocomplete: "off", required: true }),
    gType: el("select", { name: "guardian_id_type" }, ...options(ID_TYPES)),
    gId: el("input", { name: "guardian_id", autocomplete: "off", required: true }),
    gName: el("input", { name: "guardian_name", autocomplete: "off", required: true }),
    gBorn: el("input", { name: "guardian_birth_date", type: "date" }),
    relation: el("select", { name: "relation" }, ...options(RELATIONS)),
  };
  const node = el("form", { class: "card", id: "desk-form", onsubmit: (e) => { e.preventDefault(); check(f); } },
    el("h2", {}, "儿童 Child (户口簿 household register)"),
    el("div", { class: "row" }, field("预约码 Booking code", f.booking), field("公民身份号码 ID number", f.childId), field("姓名 Name", f.childName)),
    el("h2", {}, "监护人 Guardian"),
    el("div", { class: "row" }, field("证件 Document", f.gType), field("号码 Number", f.gId), field("姓名 Name", f.gName)),
    el("div", { class: "row" }, field("出生日期 Birth date (证件无出生日期时 if the document has none)", f.gBorn), field("关系 Relation", f.relation)),
    el("button", { type: "submit", class: "primary", id: "check" }, "核验 Check"));
  return node;
}

function bodyOf(f) {
  const child = { id_type: "cn_resident", id_number: f.childId.value.trim(), name: f.childName.value.trim() };
  const guardian = { id_type: f.gType.value, id_number: f.gId.value.trim(), name: f.gName.value.trim(), relation: f.relation.value };
  if (f.gBorn.value) guardian.birth_date = f.gBorn.value;
  const code = f.booking.value.trim();
  const body = code ? { booking_code: code, id_card: child } : { walk_in: child };
  return { ...body, guardian, id_source: "household_register" };
}

function show(node) { $("#result").replaceChildren(node); }

function refusal(err) {
  if (err.status === 401 && !isStaffError(err)) { store.clear(); boot(); return null; }
  return el("div", { class: "banner bad", id: "refusal", dataset: { reason: err.reason } }, err.words);
}

async function check(f) {
  state.body = bodyOf(f);
  try {
    state.precheck = await api(state.token, "POST", "/api/desk/checkins/precheck", state.body);
  } catch (err) {
    const node = refusal(err);
    if (node) show(node);
    return;
  }
  show(questions(state.precheck));
}

function questions(pre) {
  const answers = pre.questions.map((q) => ({ q, box: el("input", { type: "checkbox", name: `q-${q.id}` }) }));
  const consent = el("input", { type: "checkbox", name: "consent", id: "consent" });
  const text = (pre.consent && pre.consent.text) || {};
  return el("form", { class: "card", id: "questions", onsubmit: (e) => { e.preventDefault(); issue(answers, consent); } },
    el("p", { id: "person" }, `${pre.person.name} · ${pre.person.id_number} · ${pre.person.age ?? "—"} 岁 years · ${pre.product_name} · 第 ${pre.dose_number} 剂 dose`),
    pre.minor ? el("div", { class: "banner warn", id: "minor" }, "未成年人：须监护人同意 Minor: the guardian consents") : null,
    pre.review.length ? el("div", { class: "banner warn" }, "需医生评估 Doctor review: ", pre.review.map((r) => r.code).join(", ")) : null,
    el("h3", {}, "健康问题（勾选为“是”） Screening (tick for yes)"),
    ...answers.map(({ q, box }) => el("label", { class: "row" }, box, `${q.text["zh-CN"] || ""} ${q.text.en || q.id}`)),
    text["zh-CN"] || text.en ? el("div", { class: "card" }, el("p", {}, text["zh-CN"] || ""), el("p", { class: "muted" }, text.en || "")) : null,
    el("label", { class: "row" }, consent, "监护人已阅读并代儿童同意 The guardian has read and agrees for the child"),
    el("button", { type: "submit", class: "primary", id: "issue" }, "签发排队号 Issue the ticket"));
}

async function issue(answers, consent) {
  if (!consent.checked) { consent.focus(); return; }
  const version = state.precheck.consent.version;
  const body = {
    ...state.body,
    answers: Object.fromEntries(answers.map(({ q, box }) => [q.id, box.checked])),
    consent_version: version,
    guardian: { ...state.body.guardian, consent_version: version },
  };
  try {
    const ticket = await api(state.token, "POST", "/api/desk/checkins", body);
    $("#desk-form").reset(); // the next child starts from an empty form
    show(el("div", { class: "card", id: "ticket" },
      el("div", { class: "bigticket" }, ticket.ticket),
      el("p", {}, `${ticket.lane_name} · ${ticket.name} · 已登记户口簿号码 household register number recorded`)));
  } catch (err) {
    const node = refusal(err);
    if (node) show(node);
  }
}

async function start(token) {
  state.token = token;
  state.gate = new StaffGate({ role: "desk", token, title: "服务台 工作人员登录 Desk staff sign-in" });
  const person = await state.gate.begin();
  if (!person) await new Promise((resolve) => { state.gate.waiting.push(resolve); state.gate.ask(); });
  $("#app").replaceChildren(
    el("header", { class: "bar" }, el("h1", {}, "服务台 Desk")),
    el("main", {}, form(), el("div", { id: "result", style: "margin-top:1rem" })));
}

function boot() {
  if (store.token) { start(store.token); return; }
  signIn($("#app"), {
    title: "服务台 Desk sign-in",
    store,
    verify: async (t) => { await api(t, "POST", "/api/desk/checkins/precheck", {}); },
    done: (t) => start(t),
  });
}

boot();
