// Staff desk: check in a child without an ID card of their own, with the citizen ID number
// printed in the household register (户口本) typed or scanned by staff, and the guardian who
// consents for them (a passport's birth date typed as seen). Booked (booking code) or walk-in.
// Always a signed-in person: POST /api/desk/checkins records who typed the number.
import { $, el, api, t, nameOf, addWords, lang, TokenStore, signIn, StaffGate, isStaffError, languagePicker } from "/web/common.js";

addWords({
  "d.title": ["服务台", "服務台", "Desk"],
  "d.signin": ["服务台登录", "服務台登入", "Desk sign-in"],
  "d.staff": ["服务台 工作人员登录", "服務台 工作人員登入", "Desk staff sign-in"],
  "rel.parent": ["父母", "父母", "Parent"],
  "rel.legal_guardian": ["法定监护人", "法定監護人", "Legal guardian"],
  "rel.grandparent": ["祖父母/外祖父母", "祖父母/外祖父母", "Grandparent"],
  "rel.adult_sibling": ["成年兄弟姐妹", "成年兄弟姊妹", "Adult sibling"],
  "rel.other_relative": ["其他亲属", "其他親屬", "Other relative"],
  "idt.cn_resident": ["居民身份证", "居民身分證", "Resident ID card"],
  "idt.passport": ["护照", "護照", "Passport"],
  "idt.hk_macau_permit": ["港澳通行证", "港澳通行證", "HK/Macau permit"],
  "idt.taiwan_permit": ["台胞证", "台胞證", "Taiwan permit"],
  "d.nobooking": ["无预约请留空", "無預約請留空", "Empty for a walk-in"],
  "d.register": ["户口簿上的公民身份号码", "戶口簿上的公民身分號碼", "From the household register"],
  "d.child": ["儿童（户口簿）", "兒童（戶口簿）", "Child (household register)"],
  "d.booking": ["预约码", "預約碼", "Booking code"],
  "d.idnumber": ["公民身份号码", "公民身分號碼", "ID number"],
  "d.name": ["姓名", "姓名", "Name"],
  "d.guardian": ["监护人", "監護人", "Guardian"],
  "d.document": ["证件", "證件", "Document"],
  "d.number": ["号码", "號碼", "Number"],
  "d.born": ["出生日期（证件无出生日期时）", "出生日期（證件無出生日期時）", "Birth date (if the document has none)"],
  "d.relation": ["关系", "關係", "Relation"],
  "d.check": ["核验", "核驗", "Check"],
  "d.person": ["{name} · {id} · {age} 岁 · {product} · 第 {dose} 剂", "{name} · {id} · {age} 歲 · {product} · 第 {dose} 劑", "{name} · {id} · {age} years · {product} · dose {dose}"],
  "d.minor": ["未成年人：须监护人同意", "未成年人：須監護人同意", "Minor: the guardian consents"],
  "d.review": ["需医生评估：", "需醫生評估：", "Doctor review: "],
  "d.screening": ["健康问题（勾选为“是”）", "健康問題（勾選為「是」）", "Screening (tick for yes)"],
  "d.consent": ["监护人已阅读并代儿童同意", "監護人已閱讀並代兒童同意", "The guardian has read and agrees for the child"],
  "d.issue": ["签发排队号", "簽發排隊號", "Issue the ticket"],
  "d.recorded": ["{lane} · {name} · 已登记户口簿号码", "{lane} · {name} · 已登記戶口簿號碼", "{lane} · {name} · household register number recorded"],
});

const store = new TokenStore("desk");
const state = { token: null, gate: null, precheck: null, body: null };
const RELATIONS = ["parent", "legal_guardian", "grandparent", "adult_sibling", "other_relative"].map((v) => [v, t(`rel.${v}`)]);
const ID_TYPES = ["cn_resident", "passport", "hk_macau_permit", "taiwan_permit"].map((v) => [v, t(`idt.${v}`)]);

const field = (label, input) => el("label", {}, label, input);
const options = (pairs) => pairs.map(([value, text]) => el("option", { value }, text));

function form() {
  const f = {
    booking: el("input", { name: "booking_code", autocomplete: "off", placeholder: t("d.nobooking") }),
    childId: el("input", { name: "child_id", autocomplete: "off", required: true, maxlength: 18, placeholder: t("d.register") }),
    childName: el("input", { name: "child_name", autocomplete: "off", required: true }),
    gType: el("select", { name: "guardian_id_type" }, ...options(ID_TYPES)),
    gId: el("input", { name: "guardian_id", autocomplete: "off", required: true }),
    gName: el("input", { name: "guardian_name", autocomplete: "off", required: true }),
    gBorn: el("input", { name: "guardian_birth_date", type: "date" }),
    relation: el("select", { name: "relation" }, ...options(RELATIONS)),
  };
  const node = el("form", { class: "card", id: "desk-form", onsubmit: (e) => { e.preventDefault(); check(f); } },
    el("h2", {}, t("d.child")),
    el("div", { class: "row" }, field(t("d.booking"), f.booking), field(t("d.idnumber"), f.childId), field(t("d.name"), f.childName)),
    el("h2", {}, t("d.guardian")),
    el("div", { class: "row" }, field(t("d.document"), f.gType), field(t("d.number"), f.gId), field(t("d.name"), f.gName)),
    el("div", { class: "row" }, field(t("d.born"), f.gBorn), field(t("d.relation"), f.relation)),
    el("button", { type: "submit", class: "primary", id: "check" }, t("d.check")));
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
    el("p", { id: "person" }, t("d.person", { name: pre.person.name, id: pre.person.id_number, age: pre.person.age ?? "—",
      product: nameOf(pre.product_names, pre.product_name), dose: pre.dose_number })),
    pre.minor ? el("div", { class: "banner warn", id: "minor" }, t("d.minor")) : null,
    pre.review.length ? el("div", { class: "banner warn" }, t("d.review"), pre.review.map((r) => r.code).join(", ")) : null,
    el("h3", {}, t("d.screening")),
    ...answers.map(({ q, box }) => el("label", { class: "row" }, box, q.text[lang] || q.text["zh-CN"] || q.text.en || q.id)),
    text[lang] || text["zh-CN"] || text.en ? el("div", { class: "card" }, el("p", {}, text[lang] || text["zh-CN"] || text.en)) : null,
    el("label", { class: "row" }, consent, t("d.consent")),
    el("button", { type: "submit", class: "primary", id: "issue" }, t("d.issue")));
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
      el("p", {}, t("d.recorded", { lane: ticket.lane_name, name: ticket.name }))));
  } catch (err) {
    const node = refusal(err);
    if (node) show(node);
  }
}

async function start(token) {
  state.token = token;
  state.gate = new StaffGate({ role: "desk", token, title: t("d.staff") });
  const person = await state.gate.begin();
  if (!person) await new Promise((resolve) => { state.gate.waiting.push(resolve); state.gate.ask(); });
  $("#app").replaceChildren(
    el("header", { class: "bar" }, el("h1", {}, t("d.title")), languagePicker()),
    el("main", {}, form(), el("div", { id: "result", style: "margin-top:1rem" })));
}

function boot() {
  if (store.token) { start(store.token); return; }
  signIn($("#app"), {
    title: t("d.signin"),
    store,
    verify: async (tok) => { await api(tok, "POST", "/api/desk/checkins/precheck", {}); },
    done: (tok) => start(tok),
  });
}

boot();
