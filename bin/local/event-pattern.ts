/*
 * EventBridge event-pattern matching, for routing local events through the
 * template's own rules. Supports the documented comparison operators the kit
 * uses and common ones besides; an unknown operator is an error, never a
 * silent mismatch.
 */

export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (pattern === null || typeof pattern !== 'object' || Array.isArray(pattern)) throw new Error('event pattern must be a JSON object');
  return Object.entries(pattern as Record<string, unknown>).every(([field, sub]) => matchField(sub, (event as Record<string, unknown> | undefined)?.[field]));
}

function matchField(sub: unknown, value: unknown): boolean {
  if (Array.isArray(sub)) {
    // A leaf: the value (or any element of an array value) must match one alternative.
    const values = Array.isArray(value) ? value : [value];
    return sub.some((alt) => values.some((v) => matchAlternative(alt, v, value !== undefined)));
  }
  if (sub !== null && typeof sub === 'object') {
    if (value === null || typeof value !== 'object') return false;
    return matchesPattern(sub, value);
  }
  throw new Error(`event pattern leaf must be an array, got ${JSON.stringify(sub)}`);
}

function matchAlternative(alt: unknown, value: unknown, present: boolean): boolean {
  if (alt === null || typeof alt !== 'object') return present && value === alt;
  const [op, arg] = Object.entries(alt as Record<string, unknown>)[0] ?? [];
  switch (op) {
    case 'prefix':
      return typeof value === 'string' && (typeof arg === 'string' ? value.startsWith(arg) : value.toLowerCase().startsWith(String((arg as { 'equals-ignore-case': string })['equals-ignore-case']).toLowerCase()));
    case 'suffix':
      return typeof value === 'string' && typeof arg === 'string' && value.endsWith(arg);
    case 'equals-ignore-case':
      return typeof value === 'string' && value.toLowerCase() === String(arg).toLowerCase();
    case 'exists':
      return arg === present;
    case 'anything-but': {
      if (!present) return false;
      if (Array.isArray(arg)) return !arg.includes(value);
      if (arg !== null && typeof arg === 'object') return !matchAlternative(arg, value, present);
      return value !== arg;
    }
    case 'numeric': {
      if (typeof value !== 'number') return false;
      const terms = arg as (string | number)[];
      for (let i = 0; i < terms.length; i += 2) {
        const [cmp, bound] = [terms[i] as string, Number(terms[i + 1])];
        const ok = cmp === '=' ? value === bound : cmp === '<' ? value < bound : cmp === '<=' ? value <= bound : cmp === '>' ? value > bound : cmp === '>=' ? value >= bound : undefined;
        if (ok === undefined) throw new Error(`numeric comparison '${cmp}' is not supported`);
        if (!ok) return false;
      }
      return true;
    }
    default:
      throw new Error(`event pattern operator '${String(op)}' is not supported by the local runner`);
  }
}
