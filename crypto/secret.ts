// Key material wrapped so that it cannot leak by accident: String(), JSON.stringify and Node's
// util.inspect (console.log, crash dumps, error causes) all print a placeholder. Code that needs the
// bytes asks for them by name with `.expose()`.

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export class Secret {
  readonly #bytes: Uint8Array;
  readonly label: string;

  constructor(bytes: Uint8Array, label: string) {
    this.#bytes = bytes;
    this.label = label;
  }

  /** The raw bytes; callers must not log, persist unencrypted or send them. */
  expose(): Uint8Array {
    return this.#bytes;
  }

  get length(): number {
    return this.#bytes.length;
  }

  wipe(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return `[secret ${this.label}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
