// The code editor: CodeMirror 6 with JavaScript/TypeScript highlighting, line numbers,
// bracket matching and Ctrl/Cmd+Enter to run.

import { basicSetup, EditorView } from "codemirror";
import { Compartment, Prec } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { javascript } from "@codemirror/lang-javascript";
import { oneDark } from "@codemirror/theme-one-dark";
import type { Language } from "./api.ts";

export interface Editor {
  code(): string;
  setCode(code: string): void;
  setLanguage(language: Language): void;
  /** Puts the cursor on a 1-based line and column of the source, e.g. an error's position. */
  reveal(line: number, column: number): void;
}

export function createEditor(parent: HTMLElement, onRun: () => void): Editor {
  const language = new Compartment();
  const view = new EditorView({
    parent,
    extensions: [
      basicSetup,
      oneDark,
      language.of(javascript()),
      Prec.highest(
        keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }]),
      ),
      EditorView.contentAttributes.of({ "aria-label": "Code" }),
    ],
  });
  return {
    code: () => view.state.doc.toString(),
    setCode(code) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: code } });
    },
    setLanguage(next) {
      view.dispatch({
        effects: language.reconfigure(javascript({ typescript: next === "typescript" })),
      });
    },
    reveal(line, column) {
      const doc = view.state.doc;
      if (line < 1 || line > doc.lines) return;
      const at = doc.line(line);
      const pos = Math.min(at.from + Math.max(column - 1, 0), at.to);
      view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      view.focus();
    },
  };
}
