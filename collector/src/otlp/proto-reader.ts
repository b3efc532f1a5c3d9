// A minimal protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/): varints,
// fixed32/64, doubles, length-delimited fields and skipping of unknown fields. The OTLP messages are
// decoded field by field on top of it (decode-proto.ts), straight into the collector's records.
import { OtlpDecodeError } from '../errors.ts';

export const WIRE = Object.freeze({ varint: 0, fixed64: 1, len: 2, startGroup: 3, endGroup: 4, fixed32: 5 });

interface CachedKey {
  bytes: Uint8Array;
  text: string;
}
const MAX_CACHED_KEY = 64;
const KEYS_PER_LENGTH = 16;
/** Recently read keys by their length in bytes (see `ProtoReader.key`). */
const recentKeys: CachedKey[][] = Array.from({ length: MAX_CACHED_KEY + 1 }, () => []);

/** Reads one message (or a sub-range of it) from a buffer. `path` names the message in errors. */
export class ProtoReader {
  readonly buf: Buffer;
  pos: number;
  /** End of what may be read: the message's end, or the end of an embedded message entered with `enter`. */
  end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** True while fields remain. */
  more(): boolean {
    return this.pos < this.end;
  }

  /** Reads a field tag; returns `fieldNumber << 3 | wireType` as read. */
  tag(): number {
    return this.uint32();
  }

  /** A varint as an unsigned 32-bit number (higher bits dropped), e.g. a tag, length or uint32. */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    let b = buf[pos++] as number;
    let value = b & 0x7f;
    if (b >= 0x80) {
      b = buf[pos++] as number;
      value |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = buf[pos++] as number;
        value |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = buf[pos++] as number;
          value |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            b = buf[pos++] as number;
            value |= (b & 0x0f) << 28;
            // A 64-bit varint (e.g. a negative int32) has up to five more bytes: their bits are dropped.
            let extra = 0;
            while (b >= 0x80) {
              if (++extra > 5) throw new OtlpDecodeError('malformed varint (more than 10 bytes)');
              b = buf[pos++] as number;
            }
          }
        }
      }
    }
    if (pos > this.end) throw new OtlpDecodeError('truncated message (varint runs past the end)');
    this.pos = pos;
    return value >>> 0;
  }

  /** A varint as a signed 32-bit number (enums, int32). */
  int32(): number {
    return this.uint32() | 0;
  }

  /** A varint as a signed int64: a number when it is a safe integer, a bigint otherwise. */
  int64(): number | bigint {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    let result = 0;
    let scale = 1;
    // Up to 7 bytes (49 bits) stay exact in a double; longer varints take the bigint path.
    for (let i = 0; i < 7; i++) {
      const b = buf[pos++] as number;
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (pos > this.end) throw new OtlpDecodeError('truncated message (varint runs past the end)');
        this.pos = pos;
        return result;
      }
      scale *= 128;
    }
    pos = start;
    let big = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = buf[pos++] as number;
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (pos > this.end) throw new OtlpDecodeError('truncated message (varint runs past the end)');
        this.pos = pos;
        const signed = BigInt.asIntN(64, big);
        const asNumber = Number(signed);
        return Number.isSafeInteger(asNumber) ? asNumber : signed;
      }
      shift += 7n;
    }
    throw new OtlpDecodeError('malformed varint (more than 10 bytes)');
  }

  bool(): boolean {
    return this.uint32() !== 0;
  }

  fixed64(): bigint {
    this.need(8);
    const value = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return value;
  }

  fixed32(): number {
    this.need(4);
    const value = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return value;
  }

  double(): number {
    this.need(8);
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** Reads a length prefix and returns the [start, end) range of the field's bytes, moving past it. */
  range(): [number, number] {
    const start = this.lengthDelimited();
    return [start, this.pos];
  }

  /** Reads a length prefix and moves past the field's bytes; returns where they start (they end at `pos`). */
  private lengthDelimited(): number {
    const length = this.uint32();
    this.need(length);
    const start = this.pos;
    this.pos = start + length;
    return start;
  }

  string(): string {
    const start = this.lengthDelimited();
    return start === this.pos ? '' : this.buf.toString('utf8', start, this.pos);
  }

  /** Lowercase hex of a bytes field (ids). */
  hex(): string {
    const start = this.lengthDelimited();
    return start === this.pos ? '' : this.buf.toString('hex', start, this.pos);
  }

  /**
   * A string field whose values repeat from message to message (attribute keys): short ones come from a
   * small cache of recent values, so a key read for every span is one string (cheap as a property name)
   * instead of a new one each time.
   */
  key(): string {
    const start = this.lengthDelimited();
    const length = this.pos - start;
    const buf = this.buf;
    if (length === 0) return '';
    if (length > MAX_CACHED_KEY) return buf.toString('utf8', start, this.pos);
    const list = recentKeys[length] as CachedKey[];
    next: for (const entry of list) {
      const bytes = entry.bytes;
      for (let i = 0; i < length; i++) if (bytes[i] !== buf[start + i]) continue next;
      return entry.text;
    }
    const text = buf.toString('utf8', start, this.pos);
    if (list.length >= KEYS_PER_LENGTH) list.pop();
    list.unshift({ bytes: Uint8Array.prototype.slice.call(buf, start, this.pos), text });
    return text;
  }

  /**
   * Enters an embedded message in place (no sub-reader): reads its length and bounds reading to it.
   * Returns the outer bound, for `leave`.
   */
  enter(): number {
    const length = this.uint32();
    this.need(length);
    const outer = this.end;
    this.end = this.pos + length;
    return outer;
  }

  /** Leaves the embedded message entered with `enter` (skipping what is left of it). */
  leave(outer: number): void {
    this.pos = this.end;
    this.end = outer;
  }

  /** A sub-reader over a length-delimited (embedded message) field. */
  message(): ProtoReader {
    const start = this.lengthDelimited();
    return new ProtoReader(this.buf, start, this.pos);
  }

  /** Skips a field of the given wire type (unknown fields are ignored, as protobuf requires). */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE.varint:
        this.int64();
        return;
      case WIRE.fixed64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE.len:
        this.lengthDelimited();
        return;
      case WIRE.fixed32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new OtlpDecodeError(`unsupported wire type ${wireType} at byte ${this.pos}`);
    }
  }

  /** Checks that a field read with `expected` wire type really has it. */
  expect(tag: number, expected: number, field: string): void {
    if ((tag & 7) !== expected) throw new OtlpDecodeError(`${field}: wire type ${tag & 7}, expected ${expected}`);
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.end) throw new OtlpDecodeError(`truncated message (needs ${bytes} bytes at byte ${this.pos})`);
  }
}
