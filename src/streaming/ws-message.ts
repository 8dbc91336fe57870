// A `ws` message as one Buffer, whatever form the library delivered it in.
export function messageBuffer(raw: Buffer | ArrayBuffer | Buffer[]): Buffer {
  return Buffer.isBuffer(raw) ? raw : Array.isArray(raw) ? Buffer.concat(raw) : Buffer.from(raw);
}
