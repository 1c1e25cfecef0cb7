// A tiny SVG builder for the charts. Like `h`, text is only ever set as text.

const SVG = "http://www.w3.org/2000/svg";

export function el(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A chart's root: an accessible image whose `<title>` and label say what it shows. */
export function chartRoot(width: number, height: number, title: string, testId: string): SVGSVGElement {
  const svg = el("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
    "aria-label": title,
    "data-testid": testId,
  }) as SVGSVGElement;
  svg.append(el("title", {}, title));
  return svg;
}

/** A round step (1, 2 or 5 × a power of ten) giving about four grid lines up to `max`. */
export function niceStep(max: number): number {
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  return p * ([1, 2, 5, 10].find((m) => m * p >= raw) ?? 10);
}
