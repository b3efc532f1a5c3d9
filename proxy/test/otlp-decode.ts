// Test helper: a minimal protobuf reader for OTLP ExportTraceServiceRequest bodies (the shape in
// opentelemetry-proto trace/v1), so tests can check what the sidecar really exported.

type Field = { no: number; wire: number; value: bigint | Buffer };

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    pos = p1;
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [v, p2] = readVarint(buf, pos);
      pos = p2;
      out.push({ no, wire, value: v });
    } else if (wire === 1) {
      out.push({ no, wire, value: buf.readBigUInt64LE(pos) });
      pos += 8;
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos);
      pos = p2;
      out.push({ no, wire, value: buf.subarray(pos, pos + Number(len)) });
      pos += Number(len);
    } else if (wire === 5) {
      out.push({ no, wire, value: BigInt(buf.readUInt32LE(pos)) });
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const bytes = (f: Field): Buffer => f.value as Buffer;

export type AttrValue = string | number | boolean;

function anyValue(buf: Buffer): AttrValue {
  for (const f of fields(buf)) {
    if (f.no === 1) return bytes(f).toString('utf8');
    if (f.no === 2) return f.value === 1n;
    if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint));
    if (f.no === 4) return (() => { const b = Buffer.alloc(8); b.writeBigUInt64LE(f.value as bigint); return b.readDoubleLE(0); })();
  }
  return '';
}

function keyValues(list: Field[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list) {
    let key = '';
    let value: AttrValue = '';
    for (const f of fields(bytes(kv))) {
      if (f.no === 1) key = bytes(f).toString('utf8');
      else if (f.no === 2) value = anyValue(bytes(f));
    }
    out[key] = value;
  }
  return out;
}

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, AttrValue>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  resource: Record<string, AttrValue>;
}

export function decodeTraces(body: Buffer): DecodedSpan[] {
  const spans: DecodedSpan[] = [];
  for (const rs of fields(body).filter((f) => f.no === 1)) {
    let resource: Record<string, AttrValue> = {};
    const rsFields = fields(bytes(rs));
    for (const f of rsFields) if (f.no === 1) resource = keyValues(fields(bytes(f)).filter((g) => g.no === 1));
    for (const ss of rsFields.filter((f) => f.no === 2)) {
      for (const sp of fields(bytes(ss)).filter((f) => f.no === 2)) {
        const s: DecodedSpan = { traceId: '', spanId: '', parentSpanId: '', name: '', kind: 0, attributes: {}, statusCode: 0, resource };
        const attrs: Field[] = [];
        for (const f of fields(bytes(sp))) {
          if (f.no === 1) s.traceId = bytes(f).toString('hex');
          else if (f.no === 2) s.spanId = bytes(f).toString('hex');
          else if (f.no === 4) s.parentSpanId = bytes(f).toString('hex');
          else if (f.no === 5) s.name = bytes(f).toString('utf8');
          else if (f.no === 6) s.kind = Number(f.value);
          else if (f.no === 9) attrs.push(f);
          else if (f.no === 15) for (const g of fields(bytes(f))) if (g.no === 3) s.statusCode = Number(g.value);
        }
        s.attributes = keyValues(attrs);
        spans.push(s);
      }
    }
  }
  return spans;
}
