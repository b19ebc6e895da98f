// For exhaustive switches over a union: the `default` branch calls unreachable(x), so adding a member
// to the union without handling it fails to compile, and reaching it at run time is a bug, not bad
// input. Neutral: imports nothing, so every folder uses this one (docs/ARCHITECTURE.md §2.2).

/** Throws, naming the case: a primitive itself, or an object's `type` or `kind` field. */
export function unreachable(value: never): never {
  const v = value as unknown;
  const name = typeof v === 'object' && v !== null ? ((v as { type?: unknown }).type ?? (v as { kind?: unknown }).kind) : v;
  throw new Error(`unreachable case: ${String(name)}`);
}
