// Small SVG charts drawn here (no chart library, no CDN).
const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Vertical bars: values with labels; optional second series drawn as thinner bars. */
export function barChart(values, labels, { width = 520, height = 180, second = null, title = "" } = {}) {
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": title });
  const pad = { l: 30, r: 8, t: 10, b: 22 };
  const max = Math.max(1, ...values, ...(second || []));
  const w = (width - pad.l - pad.r) / Math.max(1, values.length);
  const y = (v) => height - pad.b - (v / max) * (height - pad.t - pad.b);
  root.append(svg("line", { class: "axis", x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b }));
  root.append(svg("text", { x: 2, y: pad.t + 8 }, String(Math.round(max))));
  values.forEach((v, i) => {
    const x = pad.l + i * w;
    root.append(svg("rect", { class: "bar", x: x + w * 0.12, y: y(v), width: w * (second ? 0.4 : 0.76), height: height - pad.b - y(v) }, undefined));
    if (second) root.append(svg("rect", { class: "bar2", x: x + w * 0.52, y: y(second[i]), width: w * 0.36, height: height - pad.b - y(second[i]) }));
    if (labels[i] !== "" && (values.length <= 12 || i % 2 === 0)) {
      root.append(svg("text", { x: x + w / 2, y: height - 6, "text-anchor": "middle" }, labels[i]));
    }
  });
  return root;
}

/** A horizontal gauge: used against capacity, coloured by level. */
export function gauge(used, capacity, { width = 520, height = 34 } = {}) {
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img" });
  const share = capacity > 0 ? Math.min(1, used / capacity) : 0;
  const colour = share >= 1 ? "var(--bad)" : share >= 0.9 ? "var(--warn)" : "var(--ok)";
  root.append(svg("rect", { x: 0, y: 4, width, height: height - 8, rx: 6, fill: "var(--line)" }));
  root.append(svg("rect", { x: 0, y: 4, width: width * share, height: height - 8, rx: 6, fill: colour }));
  root.append(svg("line", { x1: width * 0.9, x2: width * 0.9, y1: 0, y2: height, stroke: "var(--text)", "stroke-dasharray": "3 3" }));
  return root;
}
