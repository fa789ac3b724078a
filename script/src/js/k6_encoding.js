const e = globalThis.__k6.encoding;
export const b64encode = e.b64encode;
export const b64decode = e.b64decode;
export default e;
