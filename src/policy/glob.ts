/**
 * Identity globs of the policy file: `*` matches any run of characters except `/`, `**` any run
 * including `/`, `?` one character except `/`, `\` escapes the next character; everything else
 * is literal, and the whole identity must match. `*` stopping at `/` keeps
 * `https://github.com/org/*` from trusting workflows nested anywhere under another path.
 */
export function globToRegExp(glob: string, options: { caseInsensitive?: boolean } = {}): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\' && i + 1 < glob.length) {
      source += escapeRegExp(glob[++i]!);
    } else if (c === '*') {
      if (glob[i + 1] === '*') {
        source += '.*';
        i++;
      } else {
        source += '[^/]*';
      }
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += escapeRegExp(c);
    }
  }
  return new RegExp(`^${source}$`, options.caseInsensitive ? 'is' : 's');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

const compiled = new Map<string, RegExp>();

export function matchesGlob(glob: string, value: string, options: { caseInsensitive?: boolean } = {}): boolean {
  const key = `${options.caseInsensitive ? 'i' : 's'}:${glob}`;
  let re = compiled.get(key);
  if (!re) {
    re = globToRegExp(glob, options);
    compiled.set(key, re);
  }
  return re.test(value);
}
