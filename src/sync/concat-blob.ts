// postal-mime collects each MIME part line by line into a Blob and reads it back with arrayBuffer().
// Node 20's Blob reads such a many-part Blob through an async stream, one promise per part, which
// made parsing cost ~3 ms per message (bench/parse-bench.ts). This minimal Blob concatenates
// synchronously. It is installed only inside the parse worker thread, never in the main thread.

type Part = ArrayBuffer | ArrayBufferView | string | ConcatBlob;

export class ConcatBlob {
  readonly type: string;
  private readonly parts: Uint8Array[];
  constructor(parts: Part[] = [], options: { type?: string } = {}) {
    this.type = options.type ?? '';
    // A plain loop: postal-mime hands over one part per line, so this runs hundreds of times per message.
    const out: Uint8Array[] = [];
    let enc: { encode(s: string): Uint8Array } | null = null;
    for (const p of parts) {
      if (p instanceof Uint8Array) out.push(p);
      else if (p instanceof ArrayBuffer) out.push(new Uint8Array(p));
      else if (typeof p === 'string') out.push((enc ??= new TextEncoder()).encode(p));
      else if (p instanceof ConcatBlob) for (const q of p.parts) out.push(q);
      else out.push(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
    }
    this.parts = out;
  }
  get size(): number {
    return this.parts.reduce((n, p) => n + p.byteLength, 0);
  }
  get [Symbol.toStringTag](): string {
    return 'Blob';
  }
  private bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.bytes().buffer as ArrayBuffer;
  }
  async text(): Promise<string> {
    return new TextDecoder().decode(this.bytes());
  }
}

export function installConcatBlob(): void {
  (globalThis as { Blob: unknown }).Blob = ConcatBlob;
}
