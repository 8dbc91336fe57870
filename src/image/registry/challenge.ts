// Parsing of WWW-Authenticate (RFC 9110 §11.6.1) as registries send it:
//   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"
//   Basic realm="Registry Realm"
// One header may hold several challenges separated by commas, and a response may carry the
// header more than once. Token68 credentials (used by schemes such as Negotiate) are skipped:
// registries do not use them.

export interface Challenge {
  /** Lower case: "bearer", "basic". */
  scheme: string;
  /** Parameter names lower case, values unquoted. */
  params: Record<string, string>;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';
const TOKEN_END = new Set([' ', '\t', ',', '=', '"']);

export function parseChallenges(value: string | string[] | undefined): Challenge[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(', ') : value;
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;

  const skipSpaces = (): void => {
    while (isSpace(text[i])) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < text.length && !TOKEN_END.has(text[i] as string)) i++;
    return text.slice(start, i);
  };
  const readQuoted = (): string => {
    let out = '';
    i++; // opening quote
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\' && i + 1 < text.length) i++;
      out += text[i];
      i++;
    }
    i++; // closing quote
    return out;
  };

  while (i < text.length) {
    while (isSpace(text[i]) || text[i] === ',') i++;
    if (i >= text.length) break;
    const token = readToken();
    if (token === '') {
      i++; // a stray character: skip it rather than loop forever
      continue;
    }
    skipSpaces();
    if (text[i] === '=' && current !== undefined) {
      i++;
      skipSpaces();
      if (text[i] === '=' || text[i] === ',' || i >= text.length) {
        // token68 padding ("abc=="): not an auth-param.
        while (i < text.length && text[i] !== ',') i++;
        continue;
      }
      const value = text[i] === '"' ? readQuoted() : readToken();
      current.params[token.toLowerCase()] = value;
      continue;
    }
    current = { scheme: token.toLowerCase(), params: {} };
    challenges.push(current);
  }
  return challenges;
}
