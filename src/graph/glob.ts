/**
 * Name patterns for selecting experiments (`mtc run -e 'baselines_*_fold0'`) and stages
 * (`--force 'train:*'`, `--only 'evaluate:*'`): `*` any run of characters, `?` one character,
 * `[abc]` / `[a-z]` / `[!abc]` one of a set. Everything else matches itself. Whole names only.
 * Shared by the compiler's selection and the runtime's stage filters (one definition).
 */

/** Whether `pattern` uses any wildcard (else it names exactly one thing). */
export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

function escape(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

/** The pattern as an anchored regular expression. An unclosed `[` matches itself. */
export function globToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else if (ch === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (c) => `\\${c}`)}]`;
      i = close;
    } else out += escape(ch);
  }
  return new RegExp(`^${out}$`);
}

/** Whether `name` matches `pattern` as a whole. */
export function matchesGlob(name: string, pattern: string): boolean {
  return globToRegExp(pattern).test(name);
}

/** The names matching any of the patterns, in the order of `names`. */
export function filterByGlobs(names: readonly string[], patterns: readonly string[]): string[] {
  const res = patterns.map(globToRegExp);
  return names.filter((n) => res.some((r) => r.test(n)));
}
