// A small protobuf wire-format writer: the collector's responses (partial success, google.rpc.Status) and
// the export requests its fixtures and benchmark send. Nested messages are built bottom-up.

/** Appends protobuf fields to a growing buffer. */
export class ProtoWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private reserve(bytes: number): void {
    if (this.len + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + bytes));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Writes an unsigned varint of up to 53 bits. */
  varint(value: number): this {
    this.reserve(10);
    let v = value;
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
    return this;
  }

  /** Writes a signed 64-bit varint (two's complement, 10 bytes when negative). */
  varint64(value: bigint | number): this {
    let v = BigInt.asUintN(64, BigInt(value));
    this.reserve(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  uint32Field(field: number, value: number): this {
    if (value === 0) return this;
    return this.tag(field, 0).varint(value >>> 0);
  }

  int32Field(field: number, value: number): this {
    if (value === 0) return this;
    return value < 0 ? this.tag(field, 0).varint64(value) : this.tag(field, 0).varint(value);
  }

  int64Field(field: number, value: bigint | number, always = false): this {
    if (!always && (value === 0 || value === 0n)) return this;
    return this.tag(field, 0).varint64(value);
  }

  boolField(field: number, value: boolean, always = false): this {
    if (!always && !value) return this;
    return this.tag(field, 0).varint(value ? 1 : 0);
  }

  fixed64Field(field: number, value: bigint): this {
    if (value === 0n) return this;
    this.tag(field, 1);
    this.reserve(8);
    this.buf.writeBigUInt64LE(value, this.len);
    this.len += 8;
    return this;
  }

  fixed32Field(field: number, value: number): this {
    if (value === 0) return this;
    this.tag(field, 5);
    this.reserve(4);
    this.buf.writeUInt32LE(value >>> 0, this.len);
    this.len += 4;
    return this;
  }

  doubleField(field: number, value: number, always = false): this {
    if (!always && value === 0 && !Object.is(value, -0)) return this;
    this.tag(field, 1);
    this.reserve(8);
    this.buf.writeDoubleLE(value, this.len);
    this.len += 8;
    return this;
  }

  bytesField(field: number, bytes: Uint8Array, always = false): this {
    if (!always && bytes.length === 0) return this;
    this.tag(field, 2).varint(bytes.length);
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }

  stringField(field: number, value: string, always = false): this {
    if (!always && value === '') return this;
    return this.bytesField(field, Buffer.from(value, 'utf8'), always);
  }

  /** Writes an embedded message built by `build` (always present, even when empty). */
  messageField(field: number, build: (w: ProtoWriter) => void): this {
    const sub = new ProtoWriter(64);
    build(sub);
    return this.bytesField(field, sub.finish(), true);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
