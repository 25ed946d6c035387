/** Decoding of OTLP JSON `AnyValue` and `KeyValue` lists to plain JS. */
import type { AttrValue } from './types.js';

export interface KeyValue {
  key: string;
  value?: Record<string, unknown>;
}

/** Decodes an OTLP JSON AnyValue (`{stringValue}`, `{intValue: "42"}`, arrays, kvlists, bytes). */
export function decodeAnyValue(v: Record<string, unknown> | undefined): AttrValue {
  if (v === undefined || v === null) return null;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue); // int64 travels as a string in OTLP JSON
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('bytesValue' in v) return String(v.bytesValue);
  if ('arrayValue' in v) {
    const values = (v.arrayValue as { values?: Record<string, unknown>[] } | undefined)?.values ?? [];
    return values.map((x) => decodeAnyValue(x));
  }
  if ('kvlistValue' in v) return decodeAttributes((v.kvlistValue as { values?: KeyValue[] } | undefined)?.values);
  return null;
}

/** A KeyValue list as a flat record. */
export function decodeAttributes(list: KeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of list ?? []) out[kv.key] = decodeAnyValue(kv.value);
  return out;
}
