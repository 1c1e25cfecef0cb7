/**
 * Drops the comments of JavaScript source and collapses its white space, so every worker parses
 * less (the worker bundle is parsed once per workload). Strings and template literals (with
 * `${}` nesting) are kept as they are. Regular expression literals are not recognised: the code
 * given here (`worker/`) must use none, and a comment-like `//` or `/*` inside one would be cut.
 * Line breaks are kept (one per run of white space that had any, and one for a block comment
 * that spans lines), so automatic semicolon insertion reads the code as before.
 */
export function compact(source: string): string {
  let out = "";
  let i = 0;
  /** For each open `${` of a template literal, the brace depth inside it. */
  const templates: number[] = [];
  let depth = 0;
  const copyQuoted = (quote: string) => {
    const start = i++;
    while (i < source.length && source[i] !== quote) i += source[i] === "\\" ? 2 : 1;
    out += source.slice(start, ++i);
  };
  /** Copies template text from `i` up to its end or its next `${`; true if a `${` opened. */
  const copyTemplateText = (): boolean => {
    const start = i;
    while (i < source.length) {
      if (source[i] === "\\") i += 2;
      else if (source[i] === "`") {
        out += source.slice(start, ++i);
        return false;
      } else if (source[i] === "$" && source[i + 1] === "{") {
        i += 2;
        out += source.slice(start, i);
        return true;
      } else i++;
    }
    out += source.slice(start);
    return false;
  };
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? source.length : end + 2;
      out = withBreak(out, source.slice(i, stop).includes("\n"));
      i = stop;
    } else if (c === "'" || c === '"') {
      copyQuoted(c);
    } else if (c === "`") {
      out += c;
      i++;
      if (copyTemplateText()) {
        templates.push(depth);
        depth = 0;
      }
    } else if (c === "{") {
      depth++;
      out += c;
      i++;
    } else if (c === "}" && depth === 0 && templates.length > 0) {
      out += c;
      i++;
      depth = templates.pop()!;
      if (copyTemplateText()) {
        templates.push(depth);
        depth = 0;
      }
    } else if (c === " " || c === "\t" || c === "\n") {
      // A run of white space outside strings becomes one space, or one line break if it has
      // one: what stripping types and comments leaves is mostly white space.
      let newline = false;
      while (i < source.length && (source[i] === " " || source[i] === "\t" || source[i] === "\n")) {
        newline ||= source[i] === "\n";
        i++;
      }
      out = withBreak(out, newline);
    } else {
      if (c === "}") depth--;
      out += c;
      i++;
    }
  }
  return out;
}

/** `out` followed by a line break (`newline`) or a space, unless it already ends with one. */
function withBreak(out: string, newline: boolean): string {
  const last = out[out.length - 1];
  if (last === "\n" || (!newline && last === " ")) return out;
  if (newline && last === " ") return out.slice(0, -1) + "\n";
  return out + (newline ? "\n" : " ");
}
