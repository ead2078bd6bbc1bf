/**
 * The Handlebars helpers templates may call, and nothing else (the template lint enforces
 * the allowlist). Each returns a complete literal or fragment, so a template never types
 * quotes around a value and never splices raw text.
 *
 * Handlebars' strict mode does not check helper arguments (`{{nixStr typo}}` passes
 * `undefined`), so every helper checks its own arguments and throws.
 */
import type { HelperOptions } from "handlebars";
import { InternalError } from "../errors.js";
import { isNixExpr, nixAttrName, nixComment, nixString, toNix, type NixInput } from "./nix.js";

/** Thrown when a template hands a helper something it cannot print: always a hwflake bug. */
export class TemplateArgumentError extends InternalError {
  override name = "TemplateArgumentError";
}

type Helper = (...args: unknown[]) => string;

/** Handlebars passes the call site's location at runtime; its type definitions omit it. */
type Options = HelperOptions & { readonly loc?: { readonly start: { readonly line: number } } };

/** Split Handlebars' trailing options object from the positional parameters. */
function split(helper: string, args: unknown[], arity: number): { params: unknown[]; options: Options } {
  const options = args[args.length - 1] as Options;
  const params = args.slice(0, -1);
  const where = () => (options?.loc ? ` (template line ${options.loc.start.line})` : "");
  if (params.length !== arity) {
    throw new TemplateArgumentError(`${helper} takes ${arity} argument(s), got ${params.length}${where()}`);
  }
  for (let i = 0; i < params.length; i++) {
    if (params[i] === undefined) throw new TemplateArgumentError(`${helper}: argument ${i + 1} is undefined${where()}`);
  }
  return { params, options };
}

function stringArg(helper: string, v: unknown, options: Options): string {
  if (typeof v !== "string") {
    const where = options?.loc ? ` (template line ${options.loc.start.line})` : "";
    throw new TemplateArgumentError(`${helper} expects a string, got ${v === null ? "null" : typeof v}${where}`);
  }
  return v;
}

function indentArg(helper: string, options: Options): number {
  const raw: unknown = options.hash?.indent ?? 0;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 0) {
    throw new TemplateArgumentError(`${helper}: indent= must be a natural number`);
  }
  return raw;
}

/** Characters that would start Markdown/HTML syntax inside a table cell or a sentence. */
function mdEscape(text: string): string {
  return text
    .replace(/[\r\n\u2028\u2029]+/g, " ")
    .replace(/[\\`|*_[\]]/g, (c) => `\\${c}`)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .trim();
}

/** Helpers by name; the keys are the template allowlist. */
export const helpers: Readonly<Record<string, Helper>> = {
  /** `{{nixStr s}}`: a quoted Nix string literal. */
  nixStr: (...args) => {
    const { params, options } = split("nixStr", args, 1);
    return nixString(stringArg("nixStr", params[0], options));
  },

  /** `{{nixAttr name}}`: an attribute name, quoted only when Nix needs it. */
  nixAttr: (...args) => {
    const { params, options } = split("nixAttr", args, 1);
    return nixAttrName(stringArg("nixAttr", params[0], options));
  },

  /** `{{nixValue v indent=4}}`: any value via toNix; indent is the column the line starts at. */
  nixValue: (...args) => {
    const { params, options } = split("nixValue", args, 1);
    return toNix(params[0] as NixInput, indentArg("nixValue", options));
  },

  /** `{{nixComment text}}`: one `#` comment line, user text flattened onto it. */
  nixComment: (...args) => {
    const { params, options } = split("nixComment", args, 1);
    return nixComment(stringArg("nixComment", params[0], options));
  },

  /**
   * `{{nixComments lines indent=6}}`: one `#` comment line per item (as nixComment), each after
   * the first starting at column `indent`, like the line the call is on.
   */
  nixComments: (...args) => {
    const { params, options } = split("nixComments", args, 1);
    const lines = params[0];
    if (!Array.isArray(lines)) throw new TemplateArgumentError(`nixComments expects a list of strings, got ${lines === null ? "null" : typeof lines}`);
    const indent = indentArg("nixComments", options);
    return lines.map((l) => nixComment(stringArg("nixComments", l, options))).join(`\n${" ".repeat(indent)}`);
  },

  /** `{{nixExpr e indent=2}}`: a trusted expression built with nixExpr(); anything else throws. */
  nixExpr: (...args) => {
    const { params, options } = split("nixExpr", args, 1);
    if (!isNixExpr(params[0])) {
      // A plain string here would mean user text spliced as code: exactly what must not happen.
      throw new TemplateArgumentError("nixExpr only prints values made by nixExpr() in the renderer");
    }
    return toNix(params[0], indentArg("nixExpr", options));
  },

  /** `{{mdCell text}}`: user text safe inside a Markdown table cell or sentence. */
  mdCell: (...args) => {
    const { params, options } = split("mdCell", args, 1);
    return mdEscape(stringArg("mdCell", params[0], options));
  },

  /**
   * `{{mdCode text}}`: an inline code span. The fence is one backtick longer than the longest
   * run inside; `cell=true` also escapes `|`, which GFM tables split on even inside code.
   */
  mdCode: (...args) => {
    const { params, options } = split("mdCode", args, 1);
    const text = stringArg("mdCode", params[0], options).replace(/[\r\n\u2028\u2029]+/g, " ");
    const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
    const fence = "`".repeat(longest + 1);
    const pad = text.startsWith("`") || text.endsWith("`") || text === "" ? " " : "";
    const body = options.hash?.cell === true ? text.replace(/\|/g, "\\|") : text;
    return `${fence}${pad}${body}${pad}${fence}`;
  },

  /**
   * `{{mdBlock text lang="sh"}}`: a fenced code block holding `text` verbatim. The fence is
   * longer than any backtick run inside, so the text cannot close the block early.
   */
  mdBlock: (...args) => {
    const { params, options } = split("mdBlock", args, 1);
    const text = stringArg("mdBlock", params[0], options).replace(/\r\n?/g, "\n");
    const lang: unknown = options.hash?.lang ?? "";
    if (typeof lang !== "string" || !/^[a-z]*$/.test(lang)) throw new TemplateArgumentError("mdBlock: lang= must be a lowercase word");
    const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
    const fence = "`".repeat(Math.max(3, longest + 1));
    return `${fence}${lang}\n${text}\n${fence}`;
  },
};

/** Names templates may call: the helpers above plus Handlebars' own block helpers. */
export const HELPER_NAMES: readonly string[] = Object.keys(helpers).sort();

/** Handlebars built-ins allowed as blocks; `with`, `lookup` and `log` are not needed. */
export const BLOCK_HELPER_NAMES: readonly string[] = ["each", "if", "unless"];
