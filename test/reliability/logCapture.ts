import { Writable } from 'node:stream';

/** A pino destination that keeps every log line, for `createServer(services, { logger: { level, stream } })`. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  /** Every `reqId` any line carried. */
  readonly reqIds = new Set<string>();
  private partial = '';

  constructor() {
    super({ decodeStrings: false });
  }

  override _write(chunk: string | Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = this.partial + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      if (line === '') continue;
      this.lines.push(line);
      try {
        const o = JSON.parse(line) as { reqId?: unknown };
        if (typeof o.reqId === 'string') this.reqIds.add(o.reqId);
      } catch {
        // not JSON: kept as a line
      }
    }
    cb();
  }

  /** Lines at pino level `min` (50 error, 40 warn) or above. */
  atLeast(min: number): string[] {
    return this.lines.filter((l) => {
      try {
        return ((JSON.parse(l) as { level?: number }).level ?? 0) >= min;
      } catch {
        return false;
      }
    });
  }

  text(): string {
    return this.lines.join('\n');
  }
}
