// The certificate verifier (issue 15): works on the site LAN without the internet.
"use strict";

const LABELS = [
  ["name", "姓名 Name"],
  ["product", "疫苗 Vaccine"],
  ["manufacturer", "生产企业 Manufacturer"],
  ["lot", "批号 Lot"],
  ["dose_number", "剂次 Dose"],
  ["date", "日期 Date"],
  ["site", "接种点 Site"],
];

function show(answer) {
  const box = document.getElementById("answer");
  box.replaceChildren();
  const head = document.createElement("h2");
  if (answer.valid) {
    head.textContent = "✔ 凭证有效 Valid certificate";
    head.className = "good";
    box.append(head);
    const list = document.createElement("dl");
    for (const [key, label] of LABELS) {
      const term = document.createElement("dt");
      term.textContent = label;
      const value = document.createElement("dd");
      value.textContent = String(answer.certificate[key]);
      list.append(term, value);
    }
    box.append(list);
    return;
  }
  const error = answer.error || {};
  const words = error.messages || {};
  head.textContent = `✘ ${words["zh-CN"] || ""} ${words.en || error.message || "Not valid"}`;
  head.className = "bad";
  box.append(head);
}

document.getElementById("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = document.getElementById("text").value.trim();
  if (!text) return;
  try {
    const response = await fetch("/api/certificates/verify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text }),
    });
    show(await response.json());
  } catch {
    show({ valid: false, error: { message: "The site server cannot be reached." } });
  }
});
