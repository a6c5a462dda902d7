// The pages' words in zh-CN, zh-TW and en, and the page's language: `?lang=zh-CN|zh-TW|en`
// (remembered on this device), else the one remembered, else the site's first (zh-CN).
// Code uses keys (t("obs.title")); a missing key shows the key, so a test can spot it.

export const LANGUAGES = ["zh-CN", "zh-TW", "en"];
export const LANGUAGE_NAMES = { "zh-CN": "简体中文", "zh-TW": "繁體中文", en: "English" };
const KEY = "vaxflow.lang";

function chosen() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (LANGUAGES.includes(asked)) {
    try { localStorage.setItem(KEY, asked); } catch (err) { /* private mode: this page only */ }
    return asked;
  }
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch (err) { saved = null; }
  return LANGUAGES.includes(saved) ? saved : "zh-CN";
}

export const lang = chosen();
document.documentElement.lang = lang;

/** Switch this device's language and reload the page in it (the URL's ?lang follows). */
export function setLanguage(code) {
  try { localStorage.setItem(KEY, code); } catch (err) { /* this page only */ }
  const url = new URL(location.href);
  url.searchParams.set("lang", code);
  location.replace(url.toString());
}

// [zh-CN, zh-TW, en]
const WORDS = {
  // common
  "signin.token": ["令牌", "權杖", "Token"],
  "signin.submit": ["登录", "登入", "Sign in"],
  "signin.refused": ["令牌无效或无权限", "權杖無效或無權限", "This token is not valid here."],
  "feed.live": ["● 实时", "● 即時", "● live"],
  "feed.connecting": ["○ 连接中", "○ 連線中", "○ connecting"],
  "feed.offline": ["✕ 离线，正在重连", "✕ 離線，正在重新連線", "✕ offline, reconnecting"],
  "net.unreachable": ["连不上现场服务器，请检查网络。", "連不上現場伺服器，請檢查網路。", "The site server does not answer; check the network."],
  "staff.signout": ["退出登录", "登出", "Sign out"],
  "staff.nobody": ["未登录工作人员", "未登入工作人員", "No one signed in"],
  "staff.signin": ["工作人员登录", "工作人員登入", "Staff sign-in"],
  "staff.help": ["输入工号和密码，或刷工牌", "輸入工號和密碼，或刷工作證", "Enter your staff number and PIN, or scan your badge"],
  "staff.number": ["工号", "工號", "Staff number"],
  "staff.pin": ["密码", "密碼", "PIN"],
  "staff.badge": ["或刷工牌", "或刷工作證", "Or scan your badge"],
  "staff.scan": ["刷卡", "刷卡", "Scan"],
  "staff.clear": ["清除", "清除", "Clear"],
  "staff.notnow": ["暂不登录", "暫不登入", "Not now"],
  "lang.label": ["语言", "語言", "Language"],
  // observation board
  "obs.title": ["留观区", "留觀區", "Observation"],
  "obs.board": ["留观区看板", "留觀區看板", "Observation board"],
  "obs.observing": ["留观中", "留觀中", "Observing"],
  "obs.last": ["即将结束", "即將結束", "Last minutes"],
  "obs.done": ["可以离开", "可以離開", "You may leave"],
  "obs.flagged": ["请勿离开", "請勿離開", "Staff attending"],
  "obs.left": ["剩余 {t}", "剩餘 {t}", "{t} left"],
  "obs.count": ["{n} / {seats} 人", "{n} / {seats} 人", "{n} / {seats} people"],
  "obs.page": ["第 {p}/{n} 页", "第 {p}/{n} 頁", "page {p}/{n}"],
  "kind.dizziness": ["头晕", "頭暈", "Dizziness"],
  "kind.fainting": ["晕厥", "暈厥", "Fainting"],
  "kind.rash": ["皮疹", "皮疹", "Rash"],
  "kind.anaphylaxis": ["过敏性休克", "過敏性休克", "Anaphylaxis"],
  "kind.breathing": ["呼吸困难", "呼吸困難", "Breathing difficulty"],
  "kind.injection_site": ["注射部位反应", "注射部位反應", "Injection site"],
  "kind.other": ["其他", "其他", "Other"],
  "sev.mild": ["轻度", "輕度", "mild"],
  "sev.moderate": ["中度", "中度", "moderate"],
  "sev.severe": ["重度", "重度", "severe"],
  // call board
  "calls.title": ["叫号", "叫號", "Now calling"],
  "calls.board": ["叫号屏", "叫號螢幕", "Call board"],
  "calls.goto": ["请到 {station}（{zone}）", "請到 {station}（{zone}）", "Please go to {station}, {zone}"],
  "calls.wait": ["请留意叫号", "請留意叫號", "Please wait for your number"],
  "calls.repeat": ["第 {n} 次呼叫", "第 {n} 次呼叫", "call {n}"],
  "calls.sound": ["启用声音", "啟用聲音", "Enable sound"],
  "calls.soundon": ["声音开", "聲音開", "Sound on"],
  "calls.more": ["另有 {n} 个", "另有 {n} 個", "{n} more"],
};

/** The page's words for `key`, with {name} replaced from `values`. */
export function t(key, values = {}) {
  const words = WORDS[key];
  let text = words ? words[LANGUAGES.indexOf(lang)] : key;
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

/** Add words for a page: { key: [zh-CN, zh-TW, en] }. */
export function addWords(words) { Object.assign(WORDS, words); }

/** A name from the server in the page's language: a string, or { "zh-CN": …, en: … }. */
export function named(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  return value[lang] || (lang === "zh-TW" ? value["zh-CN"] : null) || value.en || Object.values(value)[0] || "";
}

/** A name with its per-language table: named({ "zh-CN": …, en: … }) if given, else the one name. */
export function nameOf(names, name) {
  return names && Object.keys(names).length ? named(names) : named(name);
}

/** The server's words for a refusal in the page's language (then zh-CN, then English). */
export function serverWords(messages, fallback) {
  const m = messages || {};
  return m[lang] || m.en || m["zh-CN"] || fallback || "";
}
