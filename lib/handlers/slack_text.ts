/**
 * What the cluster says in a Slack-format webhook (Slack, Mattermost, Rocket.Chat) stays text: it can
 * neither link nor notify. The values a template receives are escaped, not the template's own text, which
 * the admin wrote and may use to mention on purpose (`<!here>`, `@channel`).
 *
 * - Slack reads `&`, `<` and `>` as control characters (`<!channel>`, `<@U123>`, `<http://x|y>`; Mattermost
 *   turns `<!channel>`, `<!here>`, `<!all>` into its own mentions): escaped as Slack asks (`&amp;`...).
 * - Mattermost notifies on plain `@channel`, `@here`, `@all` and `@username` (Slack too with `link_names`):
 *   a zero-width space (U+200B) after every `@` that starts a name. The text reads the same, but the
 *   mention parsers split the word there (Mattermost splits on any character but letters, digits, `.`,
 *   `-`, `_`, `:` and `@`), so `@\u200Bchannel` is an `@` and a word `channel`.
 * - Mattermost and Rocket.Chat render Markdown: `[Reset your password](http://x)` would be a link and
 *   `![](http://x/p.png)` an image every reader's client loads. A zero-width space after every `]` breaks
 *   `](`, `][` and `]:` (reference links). A plain URL stays a URL (its target is what one reads).
 *
 * ```ts
 * slackLiteral("disk <!channel> @here") // "disk &lt;!channel&gt; @\u200Bhere"
 * ```
 */

const ZERO_WIDTH_SPACE = "\u200B";

/** `s` as Slack and Mattermost show it literally: no markup link or image, no control, no mention. */
export function slackLiteral(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replace(/@(?=[\p{L}\p{N}_.:-])/gu, "@" + ZERO_WIDTH_SPACE).replaceAll("]", "]" + ZERO_WIDTH_SPACE);
}

/**
 * `v` (JSON-shaped: a member record, a check event) with every string in it, values and keys, made
 * literal by slackLiteral. Iterative: a record nested 30 000 deep (its services are free-form JSON from
 * the network) does not overflow the stack.
 */
export function slackLiteralValues<T>(v: T): T {
  type Container = Record<string, unknown> | unknown[];
  const copy = (x: unknown, stack: Array<[object, Container]>): unknown => {
    if (typeof x === "string") return slackLiteral(x);
    if (!x || typeof x !== "object") return x;
    const out: Container = Array.isArray(x) ? [] : {};
    stack.push([x, out]);
    return out;
  };
  const stack: Array<[object, Container]> = [];
  const root = copy(v, stack);
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [src, dst] = top;
    for (const [k, x] of Object.entries(src)) {
      if (Array.isArray(dst)) dst[Number(k)] = copy(x, stack);
      else dst[slackLiteral(k)] = copy(x, stack);
    }
  }
  return root as T;
}
